//! One module per measurement, named by what it measures; each prints its
//! section and adds its rows to the report.

pub mod idle_cost;
pub mod initial_sync;
pub mod long_poll_latency;
pub mod one_change;
pub mod polling_latency;
