/**
 * The bodies the provisioner sends and takes, named for this client. They
 * mirror the Rust types the answers are made from (`sync-protocol` and the
 * provisioner's views) until they are derived from the OpenAPI document.
 */
export {};
