//! The sync daemon.
