//! The Fly Machines REST API client. The only module that talks to Fly.
