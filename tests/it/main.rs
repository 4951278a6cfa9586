//! One integration test binary for the whole workspace.
mod deploy_config;
mod deploy_docs;
mod entrypoint;
mod files_api;
mod fly_client;
mod fly_faults;
mod lifecycle;
mod daemon;
mod daemon_props;
mod daemon_supervise;
mod local;
mod local_support;
mod postgres;
mod postgres_store;
mod postgres_support;
mod browser;
