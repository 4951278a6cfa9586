/**
 * The bodies the provisioner sends and takes, named for this client: each
 * is a schema of the API's OpenAPI document (`docs/openapi.json`), from the
 * types `npm run generate` writes into `schema.ts`.
 */
export {};
