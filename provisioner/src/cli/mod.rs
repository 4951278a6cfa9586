//! The client commands: `push` (with `--watch`) and `previews ...`, clients
//! of a running provisioner's HTTP API like any editor. They share one way
//! to reach it (`connection`: URL and key from flags, env or the data dir)
//! and one way to fail: `error: <code>: <message>` on stderr, exit code 1.
//! What they print for people is made by the pure functions of `output`.

pub mod connection;
pub mod output;
pub mod previews;
pub mod push;
pub mod sse;
pub mod tree;
pub mod upload;
pub mod watch;

use std::process::ExitCode;

/// Ends a client command: its error on stderr as `error: ...`, exit code 1.
pub fn exit(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
