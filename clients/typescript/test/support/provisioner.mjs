// A real `provisioner serve` for the client's tests: local driver, a
// temporary data dir, a loopback port the kernel picks, its own key; the
// binaries of `cargo build --workspace --bins` (or PROVISIONER_BIN and
// SYNC_DAEMON_BIN, which the Rust test that runs these sets).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";

const root = resolve(import.meta.dirname, "../../../..");
const START_TIMEOUT_MS = 30_000;

/** A tiny dev server a preview runs: answers `message.txt` at `/`. */
export const DEV_SERVER = `require('http').createServer((request, response) => {
  response.end(require('fs').readFileSync('message.txt', 'utf8'));
}).listen(Number(process.env.PORT), '127.0.0.1');`;

export async function startProvisioner() {
  const binary = process.env.PROVISIONER_BIN ?? join(root, "target/debug/provisioner");
  const daemon = process.env.SYNC_DAEMON_BIN ?? join(root, "target/debug/sync-daemon");
  const dataDir = mkdtempSync(join(tmpdir(), "client-test-"));
  const apiKey = `client-test-${randomBytes(8).toString("hex")}`;
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(FLY_|SYNC_|PROVISIONER_)/.test(name) && name !== "DATABASE_URL",
    ),
  );
  const child = spawn(
    binary,
    [
      "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
      "--driver", "local", "--local-exec", "node server.js", "--local-install", "true",
      "--sync-daemon-bin", daemon,
    ],
    { env: { ...env, PROVISIONER_API_KEY: apiKey }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const log = [];
  createInterface({ input: child.stderr }).on("line", (line) => log.push(line));
  const lines = createInterface({ input: child.stdout });
  const baseUrl = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the provisioner did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    lines.on("line", (line) => {
      const address = line.trim().match(/^listening on (http:\/\/\S+)$/);
      if (address) {
        clearTimeout(timer);
        resolveUrl(address[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the provisioner exited (${code}) before listening:\n${log.join("\n")}`));
    });
  });
  return {
    baseUrl,
    apiKey,
    log,
    /** A raw call, for what the client does not do (a daemon's own routes). */
    async call(method, path, { body, token = apiKey } = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    /** SIGTERM (it stops its previews), then the data dir removed. */
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.on("exit", done));
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
