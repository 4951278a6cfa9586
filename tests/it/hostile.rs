//! Hostile input against the real binaries: what an anonymous client, a
//! careless editor or an app's own code might send, and the answer each gets.
//! docs/RELIABILITY.md keeps the catalogue these tests check.

mod answers;
mod inputs;
mod resources;
mod sandbox;
mod secrets;
