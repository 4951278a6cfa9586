// What the browser scripts share: their settings from the environment, a
// bounded wait, and Debian's Chromium started with a fresh profile and the
// flags this machine's closed network needs.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

/** The variable's value, else `fallback`; throws when neither is there. */
export const env = (name, fallback) => {
  const value = process.env[name] ?? fallback
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Calls `check` every `stepMs` until it answers truthy; throws after `boundMs`. */
export async function waitFor(what, check, boundMs, stepMs = 20) {
  const deadline = Date.now() + boundMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${boundMs} ms waiting for ${what}`)
    await sleep(stepMs)
  }
}

/** Chromium with a fresh profile (nothing cached from an earlier run); `close` removes it. */
export async function launchChromium() {
  const profile = mkdtempSync(join(tmpdir(), 'preview-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: env('CHROMIUM', '/usr/bin/chromium'),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  const close = async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
  return { context, close }
}
