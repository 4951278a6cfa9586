//! The Fly platform: the Machines REST API client (the only code that talks
//! to Fly), the preview machine's config, the driver that strings the calls
//! into a preview's life, and its flags.
//!
//! `client.rs` is the HTTP core (auth header, client-side rate limits,
//! retries with backoff, `fly-request-id` logging, typed errors); `apps.rs`
//! and `machines.rs` are the typed operations; `types.rs` holds the bodies,
//! named as in Fly's OpenAPI spec; `machine_config.rs` describes the one
//! machine each preview runs; `driver/` implements the lifecycle's driver
//! seam with them. Nothing here knows about previews' storage or HTTP handlers.

mod apps;
mod args;
mod auth;
mod client;
pub mod driver;
mod error;
pub mod identity;
pub mod machine_config;
mod machines;
mod rate_limit;
mod retry;
pub mod types;
pub mod url_probe;
mod visibility;

pub use args::FlyArgs;
pub use auth::authorization_value;
pub use client::{DEFAULT_API_URL, FlyClient, FlyClientConfig};
pub use driver::{FlyDriver, FlyDriverConfig};
pub use error::FlyError;
pub use identity::Identity;
pub use machines::{LEASE_NONCE_HEADER, MAX_WAIT_SECONDS};
pub use rate_limit::{Rate, RateLimiter};
pub use retry::RetryPolicy;
