// Drives Debian's Chromium (through playwright-core) against a running local
// preview of runtime-image/template:
//
// 1. a host page embeds the preview URL in an iframe;
// 2. EDITS times, it saves a changed src/message.js through the files API and
//    times until the iframe shows the new text, checking that a window
//    variable set before the edits survives (hot update, not a reload);
// 3. with WAKE=1, it waits until the provisioner has stopped the idle
//    preview, loads the iframe again and times the loading page and the app.
//
// Prints one JSON object on the last line of stdout; exits non-zero on failure.
//
// Environment: PREVIEW_URL, API_URL, API_KEY, APP_ID, EDITS (default 10),
// WAKE (default 1), CHROMIUM (default /usr/bin/chromium).

import { env, launchChromium, sleep, waitFor } from './common.mjs'

const previewUrl = env('PREVIEW_URL')
const apiUrl = env('API_URL')
const apiKey = env('API_KEY')
const appId = env('APP_ID')
const edits = Number(env('EDITS', '10'))
const wake = env('WAKE', '1') === '1'

async function api(method, path, body) {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}` },
    body,
  })
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`)
  return response
}

const saveMessage = (text) =>
  api('PUT', `/v1/apps/${appId}/files/src/message.js`, `export const message = ${JSON.stringify(text)}\n`)

/// Evaluates in the preview's frame, retrying while it navigates.
async function inFrame(frame, fn, arg, boundMs = 60_000) {
  const deadline = Date.now() + boundMs
  for (;;) {
    try {
      return await frame.evaluate(fn, arg)
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(20)
    }
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]

const { context, close } = await launchChromium()
const result = { edits, hmr_ms: [] }
try {
  const page = context.pages()[0] ?? (await context.newPage())
  await page.setContent(`<!doctype html><title>editor</title>
    <iframe id="preview" src="${previewUrl}" style="width:800px;height:600px"></iframe>`)
  const frame = await waitFor('the preview frame', async () => page.frames().find((f) => f !== page.mainFrame()), 10_000)

  // The app is up once #message has text.
  await waitFor('the app to render', () => inFrame(frame, () => document.querySelector('#message')?.textContent), 120_000)
  await inFrame(frame, () => {
    window.__survivesHotUpdates = 'yes'
    // Records when the text changes, on the page's own clock (the same wall clock as ours).
    const target = document.querySelector('#message')
    new MutationObserver(() => {
      window.__changedAt = Date.now()
      window.__changedTo = target.textContent
    }).observe(target, { childList: true, characterData: true, subtree: true })
  })
  let navigations = 0
  page.on('framenavigated', (navigated) => {
    if (navigated === frame) navigations += 1
  })

  for (let index = 1; index <= edits; index += 1) {
    // Vite's watcher (chokidar) drops a second change of one file within
    // 50 ms of the first; real edits are further apart than that.
    await sleep(150)
    const text = `Edit number ${index} at ${Date.now()}`
    const savedAt = Date.now()
    await saveMessage(text)
    const changedAt = await waitFor(
      `edit ${index} to show`,
      () => inFrame(frame, (expected) => (window.__changedTo === expected ? window.__changedAt : 0), text),
      30_000,
    )
    result.hmr_ms.push(changedAt - savedAt)
  }
  const survived = await inFrame(frame, () => window.__survivesHotUpdates)
  if (survived !== 'yes' || navigations !== 0) {
    throw new Error(`the frame reloaded during edits (marker ${survived}, ${navigations} navigations)`)
  }
  const sorted = [...result.hmr_ms].sort((a, b) => a - b)
  result.hmr_p50_ms = percentile(sorted, 50)
  result.hmr_p95_ms = percentile(sorted, 95)
  result.hot_updates_without_reload = true

  if (wake) {
    // Leave the preview alone until the provisioner puts it to sleep.
    await waitFor(
      'the idle preview to stop',
      async () => {
        const preview = await (await api('GET', `/v1/apps/${appId}/preview`)).json()
        return ['stopped', 'suspended'].includes(preview.state)
      },
      120_000,
    )
    let loadingAt = 0
    let firstByteAt = 0
    page.on('response', (response) => {
      if (response.frame() !== frame || !response.url().startsWith(previewUrl.replace(/\/$/, ''))) return
      if (response.request().resourceType() !== 'document') return
      if (response.status() === 503 && !loadingAt) loadingAt = Date.now()
      if (response.status() === 200 && !firstByteAt) firstByteAt = Date.now()
    })
    // Marks the old document so that only the newly loaded one counts as rendered.
    await inFrame(frame, () => {
      window.__beforeVisit = true
    })
    const visitAt = Date.now()
    await page.evaluate((url) => {
      document.querySelector('#preview').src = url
    }, `${previewUrl}?visit=${visitAt}`)
    const renderedAt = await waitFor(
      'the woken app to render',
      () =>
        inFrame(frame, () =>
          !window.__beforeVisit && document.querySelector('#message')?.textContent ? Date.now() : 0,
        ),
      120_000,
    )
    result.wake_loading_page_ms = loadingAt ? loadingAt - visitAt : null
    result.wake_first_byte_ms = firstByteAt ? firstByteAt - visitAt : null
    result.wake_rendered_ms = renderedAt - visitAt
    result.woke = true
  }
} finally {
  await close()
}
console.log(JSON.stringify(result))
