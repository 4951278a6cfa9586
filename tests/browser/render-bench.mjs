// Benchmark (bench/render.sh): save -> what the preview shows, in Debian's
// Chromium with the preview framed and open. Each save is a `PUT
// .../files/FILE?wait=rendered`; while it waits, the file is watched in the
// preview's own tree (APP_DIR), so one save gives both "save -> on disk" and
// "save -> rendered at the provisioner". Then ERRORS saves of a syntax
// error, each followed by its fix: "save -> compile error known".
//
// Prints one JSON object on the last line of stdout.
//
// Environment: PREVIEW_URL, API_URL, API_KEY, APP_ID, FILE, ORIGINAL, SHOWN,
// APP_DIR, SAVES (default 30), ERRORS (default 10), BREAK_FIND,
// BREAK_REPLACE, CHROMIUM.

import { readFileSync } from 'node:fs'
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

/// Times one save: until the content is on disk, and until the write answered.
async function timed(content) {
  const startedAt = performance.now()
  let diskMs
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
  return { body, diskMs, answerMs: ms }
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
  for (let index = 0; index < saves; index++) {
    const { body, diskMs, answerMs } = await timed(original.replace(shown, `Save ${index} at ${Date.now()}`))
    disk.push(diskMs)
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
  Object.assign(result, {
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
