//! The Fly Machines REST API client. The only module that talks to Fly.
//!
//! `client.rs` is the HTTP core (auth header, client-side rate limits,
//! retries with backoff, `fly-request-id` logging, typed errors); `apps.rs`
//! and `machines.rs` are the typed operations; `types.rs` holds the bodies,
//! named as in Fly's OpenAPI spec; `machine_config.rs` describes the one
//! machine each preview runs. Nothing here knows about previews' storage or
//! HTTP handlers: the Fly driver in `lifecycle` strings these calls together.

mod apps;
mod auth;
mod client;
mod error;
pub mod machine_config;
mod machines;
mod rate_limit;
mod retry;
pub mod types;

pub use auth::authorization_value;
pub use client::{DEFAULT_API_URL, FlyClient, FlyClientConfig};
pub use error::FlyError;
pub use machines::{LEASE_NONCE_HEADER, MAX_WAIT_SECONDS};
pub use rate_limit::{Rate, RateLimiter};
pub use retry::RetryPolicy;
