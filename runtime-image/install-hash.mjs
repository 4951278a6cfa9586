// Prints the fingerprint the sync-daemon writes to <state-dir>/install.sha256
// after a successful install: the sha256 over the dependency files present in
// DIR, each as its name, its length (u64, little-endian) and its bytes, in the
// daemon's order (sync-daemon/src/supervise/mod.rs, `install_inputs`).
//
// The runtime image runs this once after `npm ci`, so the daemon's first boot
// sees that the image's node_modules already match package.json and skips the
// install. tests/it/entrypoint.rs checks that both sides compute the same value.
//
// Usage: node install-hash.mjs DIR > STATE_DIR/install.sha256
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const INSTALL_INPUTS = [
  "package.json",
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "bun.lock",
  "bun.lockb",
];

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node install-hash.mjs DIR");
  process.exit(2);
}
if (!statSync(join(dir, "package.json"), { throwIfNoEntry: false })?.isFile()) {
  console.error(`install-hash: ${dir} has no package.json: nothing was installed`);
  process.exit(1);
}

const hash = createHash("sha256");
for (const name of INSTALL_INPUTS) {
  let content;
  try {
    content = readFileSync(join(dir, name));
  } catch {
    continue;
  }
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(content.length));
  hash.update(name);
  hash.update(length);
  hash.update(content);
}
// No newline: the daemon compares the file's whole text.
process.stdout.write(hash.digest("hex"));
