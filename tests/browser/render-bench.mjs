// Benchmark (bench/render.sh): save -> what the preview shows, in Debian's
// Chromium with the preview framed and open. Each save is a `PUT
// .../files/FILE?wait=rendered`; while it waits, the file is watched in the
// preview's own tree (APP_DIR), so one save gives both "save -> on disk" and
// "save -> rendered at the provisioner". Then ERRORS saves of a syntax
// error, each followed by its fix: "save -> compile error known".
//
// Each save is also timed until its text is on screen in the frame, and the
// peer, the same app's dev server run straight (STRAIGHT_URL, its tree at
// STRAIGHT_DIR), is timed the same way: the file written in place -> the
// text on screen, in a page of the same browser.
//
// Prints one JSON object on the last line of stdout.
//
// Environment: PREVIEW_URL, API_URL, API_KEY, APP_ID, FILE, ORIGINAL, SHOWN,
// APP_DIR, SAVES (default 30), ERRORS (default 10), BREAK_FIND,
// BREAK_REPLACE, STRAIGHT_URL, STRAIGHT_DIR, CHROMIUM.

import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { env, launchChromium, sleep, waitFor } from './common.mjs'

const previewUrl = env('PREVIEW_URL')
const apiUrl = env('API_URL')
const apiKey = env('API_KEY')
const appId = env('APP_ID')
const file = env('FILE')
const original = env('ORIGINAL')
const shown = env('SHOWN')
const appDir = env('APP_DIR')
const saves = Number(env('SAVES', '30'))
const errors = Number(env('ERRORS', '10'))
const breakFind = env('BREAK_FIND')
const breakReplace = env('BREAK_REPLACE')
const straightUrl = env('STRAIGHT_URL')
const straightDir = env('STRAIGHT_DIR')

/// Resolves once `text` is on screen in `frame` (checked every frame).
function onScreen(frame, text) {
  return frame.waitForFunction((t) => document.body?.innerText.includes(t), text, { polling: 'raf', timeout: 30_000 })
}

async function save(content) {
  const response = await fetch(`${apiUrl}/v1/apps/${appId}/files/${file}?wait=rendered&timeout=30`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${apiKey}` },
    body: content,
  })
  const body = await response.json()
  if (!response.ok) throw new Error(`PUT answered ${response.status}: ${JSON.stringify(body)}`)
  return body
}

/// Times one save: until the content is on disk, until the write answered,
/// and (with `frame` and `text`) until the text is on screen.
async function timed(content, frame, text) {
  const startedAt = performance.now()
  let diskMs
  const screen = frame ? onScreen(frame, text).then(() => performance.now() - startedAt) : Promise.resolve(undefined)
  const answer = save(content).then((body) => ({ body, ms: performance.now() - startedAt }))
  for (;;) {
    let onDisk = ''
    try {
      onDisk = readFileSync(join(appDir, file), 'utf8')
    } catch {}
    if (onDisk === content) {
      diskMs = performance.now() - startedAt
      break
    }
    if (performance.now() - startedAt > 30_000) throw new Error('the save never reached the disk')
    await sleep(1)
  }
  const { body, ms } = await answer
  return { body, diskMs, answerMs: ms, screenMs: await screen }
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)])
}

const { context, close } = await launchChromium()
const result = { saves, errors }
try {
  const page = context.pages()[0] ?? (await context.newPage())
  await page.setContent(`<!doctype html><iframe src="${previewUrl}" style="width:1000px;height:700px"></iframe>`)
  const frame = await waitFor('the preview frame', async () => page.frames().find((f) => f !== page.mainFrame()), 10_000)
  const shows = async (text) => {
    try {
      return await frame.evaluate((t) => document.body?.innerText.includes(t), text)
    } catch {
      return false
    }
  }
  await waitFor('the app', () => shows(shown), 240_000)
  await sleep(2_000)

  const disk = []
  /// Saves whose answer was not the expected outcome (reported, not hidden).
  const missed = []
  const rendered = []
  const waited = []
  const screen = []
  for (let index = 0; index < saves; index++) {
    const text = `Save ${index} at ${Date.now()}`
    const { body, diskMs, answerMs, screenMs } = await timed(original.replace(shown, text), frame, text)
    disk.push(diskMs)
    screen.push(screenMs)
    if (body.render.outcome !== 'rendered') {
      missed.push({ save: index, render: body.render })
      continue
    }
    rendered.push(answerMs)
    waited.push(body.render.waited_ms)
    await sleep(100)
  }
  const errorKnown = []
  for (let index = 0; index < errors; index++) {
    const broken = original.replace(breakFind, breakReplace).replace(shown, `Broken ${index} at ${Date.now()}`)
    const { body, answerMs } = await timed(broken)
    if (body.render.outcome === 'error') errorKnown.push(answerMs)
    else missed.push({ broken: index, render: body.render })
    const fixed = await save(original.replace(shown, `Fixed ${index} at ${Date.now()}`))
    if (fixed.render.outcome !== 'rendered') missed.push({ fix: index, render: fixed.render })
    await sleep(100)
  }
  // The peer: the dev server straight, the file written in place (through a
  // rename, as an editor saves) -> the text on screen.
  const straight = await context.newPage()
  await straight.goto(straightUrl)
  await waitFor('the app served straight', () => straight.evaluate((t) => document.body?.innerText.includes(t), shown), 60_000)
  await sleep(2_000)
  const straightScreen = []
  const target = join(straightDir, file)
  for (let index = 0; index < saves; index++) {
    const text = `Straight ${index} at ${Date.now()}`
    const startedAt = performance.now()
    const visible = onScreen(straight.mainFrame(), text)
    writeFileSync(`${target}.bench-tmp`, original.replace(shown, text))
    renameSync(`${target}.bench-tmp`, target)
    await visible
    straightScreen.push(performance.now() - startedAt)
    await sleep(100)
  }
  Object.assign(result, {
    screen_p50_ms: percentile(screen, 50),
    screen_p95_ms: percentile(screen, 95),
    straight_screen_p50_ms: percentile(straightScreen, 50),
    straight_screen_p95_ms: percentile(straightScreen, 95),
    disk_p50_ms: percentile(disk, 50),
    disk_p95_ms: percentile(disk, 95),
    rendered_p50_ms: percentile(rendered, 50),
    rendered_p95_ms: percentile(rendered, 95),
    rendered_waited_p50_ms: percentile(waited, 50),
    error_p50_ms: percentile(errorKnown, 50),
    error_p95_ms: percentile(errorKnown, 95),
    missed,
  })
} finally {
  await close()
}
console.log(JSON.stringify(result))
