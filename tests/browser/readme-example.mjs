// Runs the README's ten-line integration example (the TypeScript client's
// section) as written, in Debian's Chromium, against a running local
// provisioner: a page on the provisioner's origin (so the calls are
// same-origin, as from an editor's own backend-served page) loads the
// client's checked-in dist/ through an import map, and runs the example's
// lines verbatim with only its base URL replaced by the test server's. The
// givens (`key`, `packageJson`, `app`, `edited`, an `iframe` in the page)
// are declared before it; after it, what it made is read.
//
// Prints one JSON object on the last line of stdout; exits non-zero on failure.
//
// Environment: BASE_URL, API_KEY, PACKAGE_JSON, APP_TEXT, EDITED_TEXT, CHROMIUM.

import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

import { env, launchChromium, waitFor } from './common.mjs'

const root = resolve(import.meta.dirname, '../..')
const baseUrl = env('BASE_URL')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const section = readme.slice(readme.indexOf('## TypeScript client'))
const example = /```ts\n([\s\S]*?)```/.exec(section)[1]
const dist = join(root, 'clients/typescript/dist')

const givens = [
  `const key = ${JSON.stringify(env('API_KEY'))};`,
  `const packageJson = ${JSON.stringify(env('PACKAGE_JSON'))};`,
  `const app = ${JSON.stringify(env('APP_TEXT'))};`,
  `const edited = ${JSON.stringify(env('EDITED_TEXT'))};`,
  `const iframe = document.querySelector('iframe');`,
].join('\n')
const runnable = example.replace('"http://127.0.0.1:8080"', JSON.stringify(baseUrl))
const module = `${givens}\n${runnable}window.example = { preview, saved, detached: typeof detach === 'function' };\n`
const page = `<!doctype html><meta charset="utf-8"><title>README example</title>
<script type="importmap">{"imports":{"@live-preview/client":"/__readme/client/index.js"}}</script>
<iframe title="preview" style="width:800px;height:400px"></iframe>
<script type="module" src="/__readme/example.js"></script>`

const { context, close } = await launchChromium()
const result = { example_lines: example.trimEnd().split('\n').length, console: [] }
try {
  await context.route(`${baseUrl}/__readme/**`, (route) => {
    const path = new URL(route.request().url()).pathname
    const reply = (body, contentType) => route.fulfill({ status: 200, contentType, body })
    if (path === '/__readme/example.js') return reply(module, 'text/javascript')
    const file = path.replace('/__readme/client/', '')
    if (readdirSync(dist).includes(file)) return reply(readFileSync(join(dist, file)), 'text/javascript')
    return route.fulfill({ status: 404, body: 'not here' })
  })
  const tab = context.pages()[0] ?? (await context.newPage())
  // The page's document comes from the server itself (its JSON 404: no
  // policy of the playground's), so Chromium counts it as on this machine
  // and lets it frame the preview (a document the test fulfilled would be
  // a public one); the example's page is written into it.
  await tab.goto(`${baseUrl}/readme-example`)
  tab.on('console', (message) => result.console.push(`${message.type()}: ${message.text()}`))
  tab.on('pageerror', (error) => result.console.push(`pageerror: ${error.message}`))
  await tab.evaluate((html) => {
    document.open()
    document.write(html)
    document.close()
  }, page)
  const ran = await waitFor('the example to run to its end', () => tab.evaluate(() => window.example ?? null), 240_000, 200)
  result.preview_state = ran.preview.state
  result.preview_url = ran.preview.url
  result.render = ran.saved.render
  result.detached = ran.detached
  result.frame_src = await tab.locator('iframe').getAttribute('src')
  const frameText = () => tab.frameLocator('iframe').locator('#message').textContent({ timeout: 1_000 }).catch(() => null)
  result.frame_text = await waitFor('the frame to show the edit', frameText, 30_000, 200).catch(async (error) => {
    const body = await tab.frameLocator('iframe').locator('body').innerHTML({ timeout: 2_000 }).catch((e) => `unreadable: ${e.message}`)
    result.frame_error = `${error.message}; the frame shows ${JSON.stringify(body.slice(0, 400))}`
    return null
  })
  await waitFor('a log line printed by the example', async () => result.console.some((line) => line.startsWith('log: daemon ')), 30_000, 100).catch(
    (error) => (result.log_error = error.message),
  )
} finally {
  await close()
}
console.log(JSON.stringify(result))
