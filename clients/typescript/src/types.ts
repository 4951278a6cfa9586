/**
 * The bodies the provisioner sends and takes, named for this client: each
 * is a schema of the API's OpenAPI document (`docs/openapi.json`), from the
 * types `npm run generate` writes into `schema.ts`.
 */

import type { components } from "./schema.js";

type Schemas = components["schemas"];

export type PreviewState = Schemas["PreviewState"];
export type DevServerState = Schemas["DevServerState"];
export type RenderState = Schemas["RenderState"];
export type PageEventType = Schemas["PageEventType"];
export type RenderError = Schemas["RenderError"];
export type PageEvent = Schemas["PageEvent"];
/** What the preview shows (`render` of a preview, `render` events). */
export type RenderReport = Schemas["RenderReport"];
export type StepRecord = Schemas["PreviewStep"];
export type RuntimeReport = Schemas["RuntimeReport"];
/** One preview, as `GET .../preview` and every preview answer show it. */
export type Preview = Schemas["Preview"];
export type FileEntry = Schemas["FileEntry"];
/** `GET .../files`: the manifest, or with `since` what changed after it. */
export type Manifest = Schemas["ManifestResponse"];
/** How a write waited for the preview (`?wait=rendered`). */
export type RenderWait = Schemas["RenderWait"];
/** A write's answer; `render` only when it waited. */
export type WriteResult = Schemas["WriteAnswer"];
export type Settings = Schemas["SettingsView"];
/** A JSON merge patch of the settings: `null` removes a value. */
export type SettingsPatch = Schemas["SettingsPatch"];
export type PreviewLink = Schemas["PreviewLink"];
export type LogSource = Schemas["LogSource"];
export type LogLine = Schemas["LogLine"];
export type LogPage = Schemas["LogPage"];
export type Control = Schemas["Control"];
/** Every `code` an `ApiError` may carry, as the document lists them. */
export type ErrorCode = Schemas["ErrorCode"];
