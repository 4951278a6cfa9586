//! HTTP surface: the router, authentication and handlers. Handlers extract
//! input, call one domain function and map its result; they never talk to a
//! database driver or to Fly directly.

pub mod error;

pub use error::ApiError;
