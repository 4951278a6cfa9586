// Drives Debian's Chromium against a running local preview of a real app
// (tests/it/render.rs): an editor page served at EDITOR_ORIGIN (on
// loopback: Chromium blocks a public page from framing a local one) frames the preview
// and collects the page script's postMessage events, while the script
// saves FILE through the files API with `?wait=rendered`:
//
// 1. a syntax error (BREAK_FIND replaced by BREAK_REPLACE): the write's
//    answer carries `outcome: error` with the file and line, and the preview
//    resource says `render.state: error` (timed from the save);
// 2. the fix: `outcome: rendered`, the new text on screen;
// 3. an exception thrown on render (THROW_BEFORE gets a `throw` put before
//    it): `outcome: error` with its message, FILE and the line of the throw
//    (source-mapped by the page script);
// 4. the fix again: `outcome: rendered`.
// Steps 3 and 4 are left out when THROW_BEFORE is empty.
//
// Prints one JSON object on the last line of stdout; exits non-zero on failure.
//
// Environment: PREVIEW_URL, API_URL, API_KEY, APP_ID, FILE, ORIGINAL, SHOWN,
// BREAK_FIND, BREAK_REPLACE, THROW_BEFORE, EDITOR_ORIGIN, CHROMIUM.

import { createServer } from 'node:http'
import { env, launchChromium, waitFor } from './common.mjs'

const previewUrl = env('PREVIEW_URL')
const apiUrl = env('API_URL')
const apiKey = env('API_KEY')
const appId = env('APP_ID')
const file = env('FILE')
const original = env('ORIGINAL')
const shown = env('SHOWN')
const breakFind = env('BREAK_FIND')
const breakReplace = env('BREAK_REPLACE')
const throwBefore = process.env.THROW_BEFORE ?? ''
const editorOrigin = env('EDITOR_ORIGIN')

for (const needle of [shown, breakFind, throwBefore]) {
  if (!original.includes(needle)) throw new Error(`${file} does not contain ${JSON.stringify(needle)}`)
}

/// Saves FILE and waits for what the preview shows; answers the write's body.
async function save(content) {
  const response = await fetch(`${apiUrl}/v1/apps/${appId}/files/${file}?wait=rendered&timeout=30`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${apiKey}` },
    body: content,
  })
  const body = await response.json()
  if (!response.ok) throw new Error(`PUT ${file} answered ${response.status}: ${JSON.stringify(body)}`)
  return body
}

async function preview() {
  const response = await fetch(`${apiUrl}/v1/apps/${appId}/preview`, {
    headers: { authorization: `Bearer ${apiKey}` },
  })
  return response.json()
}

async function inFrame(frame, fn, arg) {
  try {
    return await frame.evaluate(fn, arg)
  } catch {
    return undefined
  }
}

const expect = (what, ok, detail) => {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(detail)}`)
}

const previewOrigin = new URL(previewUrl).origin
const editorPage = `<!doctype html><title>editor</title>
<script>
  window.__messages = []
  addEventListener('message', (event) => {
    if (event.origin === ${JSON.stringify(previewOrigin)}) window.__messages.push(event.data)
  })
</script>
<iframe id="preview" src="${previewUrl}" style="width:1000px;height:700px"></iframe>`

const editor = createServer((request, response) => {
  response.setHeader('content-type', 'text/html')
  response.end(editorPage)
})
await new Promise((resolve) => editor.listen(Number(new URL(editorOrigin).port), '127.0.0.1', resolve))
const { context, close } = await launchChromium()
const result = {}
try {
  const page = context.pages()[0] ?? (await context.newPage())
  await page.goto(`${editorOrigin}/`)
  const frame = await waitFor('the preview frame', async () => page.frames().find((f) => f !== page.mainFrame()), 10_000)
  const shows = (text) => inFrame(frame, (expected) => document.body?.innerText.includes(expected), text)
  await waitFor(`the app to show ${JSON.stringify(shown)}`, () => shows(shown), 240_000)
  const messages = () => page.evaluate(() => window.__messages)
  await waitFor('a load message from the preview', async () => (await messages()).some((m) => m.type === 'load'), 30_000)
  // The first visit may reload once after the dev server optimized dependencies.
  await waitFor('the render to settle', async () => (await preview()).render?.state === 'rendered', 30_000)

  // 1. A syntax error.
  let savedAt = Date.now()
  const bad = await save(original.replace(breakFind, breakReplace))
  result.syntax_error_ms = Date.now() - savedAt
  result.syntax_error = bad.render
  expect('the bad edit answers error', bad.render.outcome === 'error', bad)
  expect('at the file', bad.render.error?.file === file, bad)
  expect('with a line', Number.isInteger(bad.render.error?.line), bad)
  const resource = await preview()
  expect('the resource says error', resource.render?.state === 'error' && resource.render.revision >= bad.revision, resource.render)

  // 2. The fix.
  const fixedText = `Fixed at ${Date.now()}`
  savedAt = Date.now()
  const good = await save(original.replace(shown, fixedText))
  result.fix_ms = Date.now() - savedAt
  expect('the fix answers rendered', good.render.outcome === 'rendered' && good.render.error === null, good)
  // "rendered" means on screen: the text is there as the answer arrives
  // (a second's slack for a loaded machine, not the time a rebuild takes).
  await waitFor('the fixed text, on screen when the answer said rendered', () => shows(fixedText), 1_000)

  // 3. An exception thrown on render.
  if (throwBefore) {
    const throwing = original.replace(throwBefore, `if (globalThis) throw new Error('render-boom')\n  ${throwBefore}`)
    const throwLine = throwing.split('\n').findIndex((line) => line.includes('render-boom')) + 1
    savedAt = Date.now()
    const thrown = await save(throwing)
    result.runtime_error_ms = Date.now() - savedAt
    result.runtime_error = thrown.render
    result.throw_line = throwLine
    expect('the throwing edit answers error', thrown.render.outcome === 'error', thrown)
    expect('with its message', /render-boom/.test(thrown.render.error?.message ?? ''), thrown)
    // Source-mapped: the source file and the line of the throw, not the served module's.
    expect('at the source file', thrown.render.error?.file === file, thrown)
    expect(`at the line of the throw (${throwLine})`, thrown.render.error?.line === throwLine, thrown)

    // 4. The fix again.
    const again = await save(original)
    expect('the second fix answers rendered', again.render.outcome === 'rendered', again)
  }

  // The editor heard all of it, tied to revisions.
  const heard = await messages()
  result.message_types = [...new Set(heard.map((m) => m.type))].sort()
  for (const type of throwBefore ? ['load', 'hmr-applied', 'error'] : ['load', 'hmr-applied']) {
    expect(`a ${type} message`, result.message_types.includes(type), result.message_types)
  }
  expect(
    'every message is format v1 from the preview with a revision',
    heard.every((m) => m.source === 'preview' && m.version === 1 && Number.isInteger(m.revision) && m.event?.type === m.type),
    heard,
  )
  if (throwBefore) {
    const boom = heard.find((m) => m.type === 'error')
    expect('the error message names the exception', /render-boom/.test(boom.event.message), boom)
  }
  result.messages = heard.length
} catch (error) {
  // What the editor heard, to tell a missing page event from a wrong verdict.
  const heard = await context.pages()[0]?.evaluate(() => window.__messages).catch(() => undefined)
  console.error(`messages heard: ${JSON.stringify(heard)}`)
  throw error
} finally {
  await close()
  editor.close()
}
console.log(JSON.stringify(result))
