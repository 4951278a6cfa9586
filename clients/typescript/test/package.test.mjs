// What ships: `dist/` is exactly what tsc makes of `src/`, `npm pack`
// lists the types, the README and `dist/` and nothing of the tests, and
// the package installs into a fresh directory from its repository path
// (where the README's example type-checks against it) and from its tarball.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const packageDir = resolve(import.meta.dirname, "..");
const tsc = join(packageDir, "node_modules/typescript/bin/tsc");
const npmOptions = ["--offline", "--no-audit", "--no-fund", "--loglevel=error"];

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function scratch(name) {
  return mkdtempSync(join(tmpdir(), `client-${name}-`));
}

function filesUnder(dir, prefix = "") {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

test("the checked-in dist is what tsc makes of src", () => {
  const out = scratch("dist");
  try {
    run(process.execPath, [tsc, "-p", "tsconfig.json", "--outDir", out], packageDir);
    const built = filesUnder(out).sort();
    assert.deepEqual(filesUnder(join(packageDir, "dist")).sort(), built, "run `npm run build`");
    for (const file of built) {
      assert.equal(
        readFileSync(join(packageDir, "dist", file), "utf8"),
        readFileSync(join(out, file), "utf8"),
        `dist/${file} is stale: run \`npm run build\``,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("npm pack ships dist with its types and the README, and no tests", () => {
  const [pack] = JSON.parse(run("npm", ["pack", "--dry-run", "--json", ...npmOptions], packageDir));
  const paths = pack.files.map((file) => file.path).sort();
  for (const needed of ["README.md", "package.json", "dist/index.js", "dist/index.d.ts", "dist/client.d.ts", "dist/sse.js"]) {
    assert.ok(paths.includes(needed), `${needed} missing from ${paths}`);
  }
  const unwanted = paths.filter((path) => !/^(README\.md|package\.json|dist\/[a-z-]+\.(js|d\.ts))$/.test(path));
  assert.deepEqual(unwanted, []);
});

/** The README's example as a module that type-checks on its own. */
function readmeExample() {
  const readme = readFileSync(join(packageDir, "README.md"), "utf8");
  const example = readme.match(/<!-- example: start -->\n```ts\n([\s\S]*?)```\n<!-- example: end -->/);
  assert.ok(example, "the README keeps its example between the example markers");
  const lines = example[1].trimEnd().split("\n");
  assert.ok(lines.length <= 10, `the example is ${lines.length} lines`);
  const workspaceReadme = readFileSync(join(packageDir, "../../README.md"), "utf8");
  assert.ok(workspaceReadme.includes(example[1]), "the workspace README shows the same example");
  const givens = "declare const key: string, packageJson: string, app: string, edited: string;\n" +
    "declare const iframe: HTMLIFrameElement;\n";
  return `${givens}${example[1]}export {};\n`;
}

function typeChecks(consumer) {
  writeFileSync(join(consumer, "example.ts"), readmeExample());
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2022", "DOM"], strict: true, noEmit: true, types: [], skipLibCheck: true },
      files: ["example.ts"],
    }),
  );
  run(process.execPath, [tsc, "-p", "tsconfig.json"], consumer);
}

function imports(consumer) {
  const imported = run(
    process.execPath,
    ["--input-type=module", "-e", "const m = await import('@live-preview/client'); console.log(Object.keys(m).sort().join(','))"],
    consumer,
  );
  assert.equal(imported.trim(), "ApiError,EventStreamParser,attachPreview,createClient,isPreviewMessage");
}

test("installed from the repository path into a fresh directory, it type-checks and imports", () => {
  const consumer = scratch("from-path");
  try {
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    run("npm", ["install", ...npmOptions, packageDir], consumer);
    typeChecks(consumer);
    imports(consumer);
  } finally {
    rmSync(consumer, { recursive: true, force: true });
  }
});

test("installed from its packed tarball into a fresh directory, it imports", () => {
  const consumer = scratch("from-tarball");
  try {
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    const [pack] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", consumer, ...npmOptions], packageDir));
    run("npm", ["install", ...npmOptions, join(consumer, pack.filename)], consumer);
    imports(consumer);
  } finally {
    rmSync(consumer, { recursive: true, force: true });
  }
});
