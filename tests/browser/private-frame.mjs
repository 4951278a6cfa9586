// Drives Debian's Chromium (through playwright-core) against a private local
// preview (tests/it/private_previews.rs): an editor page on another site
// (http://127.0.0.1:<port>, served here) frames the preview's signed LINK;
// the frame must end on the app's page showing SHOWN, through the access
// cookie (SameSite=None; Secure; Partitioned) set inside the iframe. A
// second frame, of the bare PREVIEW_URL in a fresh context, must be refused.
//
// Prints one JSON object on the last line of stdout; exits non-zero on failure.
//
// Environment: LINK, PREVIEW_URL, SHOWN, CHROMIUM (default /usr/bin/chromium).

import { createServer } from 'node:http'
import { env, launchChromium, waitFor } from './common.mjs'

const link = env('LINK')
const previewUrl = env('PREVIEW_URL')
const shown = env('SHOWN')

/** An editor page on 127.0.0.1, a different site from *.localhost. */
async function editor(frameUrl) {
  const server = createServer((request, response) => {
    response.setHeader('content-type', 'text/html')
    response.end(`<!doctype html><title>editor</title><iframe id="preview" src="${frameUrl}"></iframe>`)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() }
}

async function frameText(page) {
  const frame = page.frames().find((candidate) => candidate !== page.mainFrame())
  if (!frame) return ''
  try {
    return (await frame.evaluate(() => document.body?.innerText ?? '')) || ''
  } catch {
    return ''
  }
}

const started = Date.now()
const summary = {}
{
  const { context, close } = await launchChromium()
  const site = await editor(link)
  try {
    const page = await context.newPage()
    await page.goto(site.url)
    await waitFor('the framed private preview to show the app', async () => (await frameText(page)).includes(shown), 30_000)
    summary.framed_ms = Date.now() - started
    const cookies = await context.cookies(previewUrl)
    summary.cookie_partitioned = cookies.some((cookie) => cookie.name === 'preview_access' && cookie.partitionKey !== undefined)
  } finally {
    site.close()
    await close()
  }
}
{
  const { context, close } = await launchChromium()
  const site = await editor(previewUrl)
  try {
    const page = await context.newPage()
    await page.goto(site.url)
    const text = await waitFor('the bare preview URL to be refused', async () => {
      const body = await frameText(page)
      return body.includes('private') ? body : false
    }, 30_000)
    if (text.includes(shown)) throw new Error('the bare URL showed the private app')
    summary.refused_without_link = true
  } finally {
    site.close()
    await close()
  }
}
console.log(JSON.stringify(summary))
