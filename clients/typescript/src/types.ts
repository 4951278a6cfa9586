/**
 * The bodies the provisioner sends and takes, named for this client. They
 * mirror the Rust types the answers are made from (`sync-protocol` and the
 * provisioner's views) until they are derived from the OpenAPI document.
 */

export type PreviewState =
  | "provisioning"
  | "running"
  | "waking"
  | "stopping"
  | "stopped"
  | "suspended"
  | "deleting"
  | "deleted"
  | "failed";

export type DevServerState =
  | "none"
  | "installing"
  | "starting"
  | "ready"
  | "crashed"
  | "unresponsive"
  | "stopped";

export type RenderState = "applied" | "compiled" | "error" | "rendered";

export type PageEventType =
  | "error"
  | "rejection"
  | "overlay"
  | "console-error"
  | "hmr-applied"
  | "load"
  | "navigation";

export interface RenderError {
  message: string;
  file: string | null;
  line: number | null;
  origin: "compile" | "runtime" | "overlay";
}

export interface PageEvent {
  type: PageEventType;
  revision?: number | null;
  message?: string;
  file?: string;
  line?: number;
  url?: string;
}

/** What the preview shows (`render` of a preview, `render` events). */
export interface RenderReport {
  revision: number;
  state: RenderState;
  error: RenderError | null;
  url?: string;
  events?: PageEvent[];
}

export interface StepRecord {
  name: string;
  status: string;
  started_at?: string | null;
  finished_at?: string | null;
  duration_ms?: number | null;
  log?: string | null;
}

export interface RuntimeReport {
  framework: string | null;
  package_manager: string | null;
  install_command: string | null;
  dev_command: string;
  dev_port: number;
  upstream_port: number | null;
  gateway_port: number;
}

/** One preview, as `GET .../preview` and every preview answer show it. */
export interface Preview {
  app_id: string;
  state: PreviewState;
  url: string | null;
  steps: StepRecord[];
  last_activity_at: string;
  files_revision?: number;
  applied_revision: number | null;
  dev_server: DevServerState | null;
  runtime: RuntimeReport | null;
  render: RenderReport | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface FileEntry {
  path: string;
  sha256: string;
  size: number;
}

/** `GET .../files`: the manifest, or with `since` what changed after it. */
export interface Manifest {
  store_id: string;
  revision: number;
  full: boolean;
  files: FileEntry[];
  deleted?: string[];
}

/** How a write waited for the preview (`?wait=rendered`). */
export interface RenderWait {
  outcome: "rendered" | "error" | "timeout" | "no_preview";
  revision: number;
  state: RenderState | null;
  error: RenderError | null;
  waited_ms: number;
  message: string;
}

/** A write's answer; `render` only when it waited. */
export interface WriteResult {
  revision: number;
  changed: number;
  render?: RenderWait;
}

export interface Settings {
  install_command: string | null;
  dev_command: string | null;
  port: number | null;
  env_keys: string[];
  visibility: "public" | "private";
}

/** A JSON merge patch of the settings: `null` removes a value. */
export interface SettingsPatch {
  install_command?: string | null;
  dev_command?: string | null;
  port?: number | null;
  env?: Record<string, string | null> | null;
  visibility?: "public" | "private" | null;
}

export interface PreviewLink {
  url: string;
  token: string;
  expires_at: string;
}

export type LogSource = "install" | "dev_server" | "daemon" | "gateway";

export interface LogLine {
  at: string;
  source: LogSource;
  text: string;
}

export interface LogPage {
  lines: LogLine[];
  cursor: number;
}

export interface Control {
  seq: number;
  kind: "restart" | "rebuild";
}
