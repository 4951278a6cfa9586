// Builds the playground into dist/ (or the directory given as the first
// argument, which the bundle check uses): the page, one script bundle
// (CodeMirror included) and one stylesheet. The output depends on the
// sources and the locked package versions only: no source maps, no
// timestamps, no absolute paths, so the checked-in dist/ can be compared
// byte for byte with a fresh build.

import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = dirname(fileURLToPath(import.meta.url))
const outdir = resolve(process.argv[2] ?? join(here, 'dist'))
rmSync(outdir, { recursive: true, force: true })
mkdirSync(outdir, { recursive: true })

const common = { bundle: true, minify: true, legalComments: 'eof', logLevel: 'warning', absWorkingDir: here }
await build({
  ...common,
  entryPoints: ['src/main.js'],
  outfile: join(outdir, 'playground.js'),
  format: 'esm',
  target: ['chrome111', 'firefox113', 'safari16.4'],
})
await build({ ...common, entryPoints: ['src/style.css'], outfile: join(outdir, 'playground.css') })
copyFileSync(join(here, 'src/index.html'), join(outdir, 'index.html'))
