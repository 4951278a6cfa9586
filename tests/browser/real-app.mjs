// Drives Debian's Chromium (through playwright-core) against a running local
// preview of a real app from npm (tests/it/real_apps.rs):
//
// 1. a host page embeds the preview URL in an iframe and waits until the
//    page shows SHOWN (a text of the app's own page);
// 2. it saves FILE with SHOWN replaced through the files API and waits for
//    the new text; with HOT=1 a window marker set before must survive and
//    the frame must not navigate (a hot update, not a reload), with HOT=0
//    the frame is reloaded until the text shows;
// 3. it saves FILE with a syntax error (BREAK_FIND replaced by
//    BREAK_REPLACE, or a stray `)(` appended), notes whether the framework's
//    error overlay appeared, then saves a fixed version and waits for it in
//    the same page (HOT=1) or on reload (HOT=0): the preview is not wedged.
//
// Prints one JSON object on the last line of stdout; exits non-zero on failure.
//
// With EDITS=N (bench/edit-visible.sh) it times N more edits after the first
// and adds their p50/p95 (save to text in the open page) to the summary.
//
// Environment: PREVIEW_URL, API_URL, API_KEY, APP_ID, FILE, ORIGINAL (its
// content), SHOWN, HOT (default 1), BREAK_FIND, BREAK_REPLACE, EDITS
// (default 0), CHROMIUM (default /usr/bin/chromium).

import { env, launchChromium, sleep, waitFor } from './common.mjs'

const previewUrl = env('PREVIEW_URL')
const apiUrl = env('API_URL')
const apiKey = env('API_KEY')
const appId = env('APP_ID')
const file = env('FILE')
const original = env('ORIGINAL')
const shown = env('SHOWN')
const hot = env('HOT', '1') === '1'
const breakFind = env('BREAK_FIND', '')
const breakReplace = env('BREAK_REPLACE', '')
const edits = Number(env('EDITS', '0'))

if (!original.includes(shown)) throw new Error(`${file} does not contain ${JSON.stringify(shown)}`)
if (breakFind && !original.includes(breakFind)) throw new Error(`${file} does not contain ${JSON.stringify(breakFind)}`)

async function save(content) {
  const response = await fetch(`${apiUrl}/v1/apps/${appId}/files/${file}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${apiKey}` },
    body: content,
  })
  if (!response.ok) throw new Error(`PUT ${file} answered ${response.status}: ${await response.text()}`)
}

/// Evaluates in the preview's frame; `undefined` while it navigates.
async function inFrame(frame, fn, arg) {
  try {
    return await frame.evaluate(fn, arg)
  } catch {
    return undefined
  }
}

const pageShows = (frame, text) => inFrame(frame, (expected) => document.body?.innerText.includes(expected), text)

/// Waits for `text` in the open page, or (HOT=0) reloads the frame until it shows.
async function waitForText(page, frame, text, boundMs) {
  if (hot) return waitFor(`${JSON.stringify(text)} in the open page`, () => pageShows(frame, text), boundMs)
  return waitFor(
    `${JSON.stringify(text)} after a reload`,
    async () => {
      await page.evaluate((url) => {
        document.querySelector('#preview').src = url
      }, `${previewUrl}?at=${Date.now()}`)
      await sleep(300)
      return pageShows(frame, text)
    },
    boundMs,
  )
}

const { context, close } = await launchChromium()
const result = {}
try {
  const page = context.pages()[0] ?? (await context.newPage())
  await page.setContent(`<!doctype html><title>editor</title>
    <iframe id="preview" src="${previewUrl}" style="width:1000px;height:700px"></iframe>`)
  const frame = await waitFor('the preview frame', async () => page.frames().find((f) => f !== page.mainFrame()), 10_000)
  const openedAt = Date.now()
  await waitFor(`the app to show ${JSON.stringify(shown)}`, () => pageShows(frame, shown), 240_000)
  result.rendered_ms = Date.now() - openedAt
  // A dev server may reload the page once after optimizing dependencies on
  // the first visit; let that settle before the marker is set.
  await sleep(2_000)
  await waitFor('the app to show its text again', () => pageShows(frame, shown), 60_000)
  await waitFor('the marker to be set', () =>
    inFrame(frame, () => {
      window.__survivesHotUpdates = 'yes'
      return true
    }), 10_000)
  // Document loads of the frame; a same-document history change (Next's
  // router after a refresh) is not a reload and makes no request.
  let navigations = 0
  page.on('request', (request) => {
    if (request.frame() === frame && request.isNavigationRequest()) navigations += 1
  })

  const edited = `Edited at ${Date.now()}`
  const savedAt = Date.now()
  await save(original.replace(shown, edited))
  await waitForText(page, frame, edited, 60_000)
  result.edit_ms = Date.now() - savedAt
  if (hot) {
    const survived = await inFrame(frame, () => window.__survivesHotUpdates)
    if (survived !== 'yes' || navigations !== 0) {
      throw new Error(`the frame reloaded for the edit (marker ${survived}, ${navigations} navigations)`)
    }
    result.hot_update = true
  }
  if (edits > 0) {
    const times = []
    for (let index = 0; index < edits; index += 1) {
      const text = `Edit ${index} at ${Date.now()}`
      const at = Date.now()
      await save(original.replace(shown, text))
      await waitForText(page, frame, text, 60_000)
      times.push(Date.now() - at)
    }
    times.sort((a, b) => a - b)
    result.edits = edits
    result.edits_p50_ms = times[Math.floor(edits * 0.5)]
    result.edits_p95_ms = times[Math.min(edits - 1, Math.floor(edits * 0.95))]
  }

  const broken = breakFind ? original.replace(breakFind, breakReplace) : `${original}\n)(\n`
  await save(broken.replace(shown, edited))
  // Vite's overlay element, or Next's dev overlay dialog inside its portal.
  const overlayShown = () =>
    inFrame(frame, () => {
      if (document.querySelector('vite-error-overlay')) return true
      const portal = document.querySelector('nextjs-portal')?.shadowRoot
      return Boolean(portal?.querySelector('[data-nextjs-dialog]') || /Build Error|Syntax Error/.test(portal?.textContent ?? ''))
    })
  result.error_overlay = false
  const overlayDeadline = Date.now() + 15_000
  while (Date.now() < overlayDeadline) {
    if (await overlayShown()) {
      result.error_overlay = true
      break
    }
    await sleep(100)
  }

  const fixed = `Fixed at ${Date.now()}`
  const fixedAt = Date.now()
  const navigationsBeforeFix = navigations
  await save(original.replace(shown, fixed))
  await waitForText(page, frame, fixed, 90_000)
  result.recovered_ms = Date.now() - fixedAt
  result.reloaded_after_fix = navigations !== navigationsBeforeFix
  result.recovered = true
} finally {
  await close()
}
console.log(JSON.stringify(result))
