//! Request and response bodies, named and spelled exactly as in Fly's OpenAPI
//! spec (`#/components/schemas/...`). Requests omit every unset field, because
//! the spec check in the emulator (and Fly) reject what they do not declare.
//! Responses ignore unknown fields and default missing ones: Fly adds fields
//! over time and older ones go away.

mod apps;
mod machine_status;
mod machines;

pub use apps::*;
pub use machine_status::*;
pub use machines::*;
