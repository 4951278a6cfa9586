// Drives the provisioner's playground page (`/`) in Debian's Chromium
// against a running local preview of runtime-image/template:
//
// 1. opens the page with the operator key in the URL fragment (which the
//    page takes and removes from the address bar);
// 2. opens the app from the previews list and waits for its preview frame;
// 3. opens src/message.js from the file tree, replaces its text in the
//    CodeMirror editor and saves;
// 4. waits until the frame shows the new text and the page shows the saved
//    revision as on screen (`rendered`);
// 5. saves a syntax error, waits for the page to list it among the errors
//    with its file, then saves the fix and waits for `rendered` again;
// 6. restarts the dev server from the previews list and waits for the log
//    view to show it starting again;
// 7. with the app made private (through the API), mints a private link from
//    the app bar and opens it in a new tab: the plain preview URL is refused,
//    the link shows the app;
// 8. stops the preview from the previews list, then wakes it from there:
//    the frame shows the app again and its revision as on screen.
//
// Fails on any Content-Security-Policy violation or uncaught page error.
// Prints one JSON object on the last line of stdout; exits non-zero on failure.
//
// Environment: PLAYGROUND_URL (with `#key=`), APP_ID, FILE, NEW_TEXT, CHROMIUM.

import { env, launchChromium, waitFor } from './common.mjs'

const playgroundUrl = env('PLAYGROUND_URL')
const appId = env('APP_ID')
const file = env('FILE')
const newText = env('NEW_TEXT')
const origin = new URL(playgroundUrl).origin

const { context, close } = await launchChromium()
const result = {}
const problems = []
try {
  const page = context.pages()[0] ?? (await context.newPage())
  page.on('console', (message) => {
    // The page's own errors (a refused policy included), not the framed app's.
    if (message.type() === 'error' && message.location().url.startsWith(origin)) problems.push(`console: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  await page.goto(playgroundUrl)
  result.fragment_after_load = await page.evaluate(() => location.hash)

  const open = page.locator(`tr[data-app="${appId}"] button[data-action="open"]`)
  await open.waitFor({ timeout: 30_000 })
  await open.click()
  const frameElement = page.locator('#preview-frame')
  await waitFor('the preview frame to load', async () => (await frameElement.getAttribute('src'))?.startsWith('http'), 30_000)
  const frame = page.frameLocator('#preview-frame')
  const shown = () => frame.locator('#message').textContent({ timeout: 1_000 }).catch(() => null)
  result.first_text = await waitFor('the app to render in the frame', shown, 120_000, 200)

  await page.locator(`#tree button.file[data-path="${file}"]`).click()
  const content = page.locator('#editor .cm-content')
  await waitFor('the file in the editor', async () => (await content.textContent()).includes('message'), 30_000)

  /**
   * Replaces the editor's text as a user types it (key by key: the editor's
   * own commands, where a pasted multi-line replacement would be Chromium's
   * contenteditable editing) and saves; the saved revision.
   */
  const edit = async (text, keysAfter = []) => {
    await content.click()
    await page.keyboard.press('Control+A')
    await page.keyboard.press('Backspace')
    await page.keyboard.type(text)
    for (const key of keysAfter) await page.keyboard.press(key)
    const before = await page.locator('#save-status').getAttribute('data-revision')
    await page.locator('#save').click()
    const revision = await waitFor(
      'the save to answer',
      async () => {
        const now = await page.locator('#save-status').getAttribute('data-revision')
        return now !== before ? Number(now) : 0
      },
      30_000,
    )
    return revision
  }
  const onScreen = (revision, state) =>
    waitFor(
      `revision ${revision} as ${state}`,
      async () =>
        (await page.locator('#revision-screen').textContent()) === String(revision) &&
        (await page.locator('#render-state').getAttribute('data-state')) === state,
      60_000,
      100,
    )

  const savedAt = Date.now()
  result.saved_revision = await edit(`export const message = ${JSON.stringify(newText)}`)
  await waitFor('the frame to show the edit', async () => (await shown()) === newText, 60_000, 50)
  result.frame_updated_ms = Date.now() - savedAt
  await onScreen(result.saved_revision, 'rendered')
  result.rendered_ms = Date.now() - savedAt
  result.disk = await page.locator('#revision-disk').textContent()

  // The editor closes the bracket as it is typed; Delete removes the `)` again.
  result.broken_revision = await edit('export const message = (', ['Delete'])
  result.broken_text = await content.textContent()
  await onScreen(result.broken_revision, 'error')
  result.error_listed = await waitFor(
    'the error to be listed',
    async () => (await page.locator('#errors li').allTextContents()).find((text) => text.includes(file)),
    30_000,
    100,
  )
  result.fixed_revision = await edit(`export const message = ${JSON.stringify(`${newText} again`)}`)
  await waitFor('the frame to show the fix', async () => (await shown()) === `${newText} again`, 60_000, 50)
  await onScreen(result.fixed_revision, 'rendered')
  result.log_lines = await page.locator('#logs span').count()
  result.app_state = await page.locator('#app-state').textContent()

  // The list's restart action: the log view shows the dev server starting again.
  const starts = async () =>
    (await page.locator('#logs span').allTextContents()).filter((line) => line.includes('starting the dev server')).length
  result.starts_before_restart = await starts()
  await page.locator(`tr[data-app="${appId}"] button[data-action="restart"]`).click()
  result.starts_after_restart = await waitFor(
    'the log view to show the dev server starting again',
    async () => {
      const now = await starts()
      return now > result.starts_before_restart ? now : 0
    },
    60_000,
    100,
  )
  await waitFor('the frame to show the app after the restart', async () => (await shown()) === `${newText} again`, 60_000, 100)

  // A private link from the app bar, for the app made private.
  const setVisibility = (visibility) =>
    page.evaluate(
      async ({ appId, visibility }) => {
        const key = sessionStorage.getItem('provisioner-operator-key')
        const response = await fetch(`/v1/apps/${appId}/settings`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ visibility }),
        })
        return response.status
      },
      { appId, visibility },
    )
  result.private_status = await setVisibility('private')
  await page.locator('#app-link').click()
  const link = page.locator('#private-link')
  result.private_link = await waitFor('the private link', async () => link.getAttribute('href'), 30_000, 50)
  const tab = await context.newPage()
  const plainUrl = await page.locator('#app-open').getAttribute('href')
  result.plain_visit_status = (await tab.goto(plainUrl)).status()
  await tab.goto(result.private_link)
  result.link_visit_text = await waitFor(
    'the link to show the app',
    () => tab.locator('#message').textContent({ timeout: 1_000 }).catch(() => null),
    60_000,
    200,
  )
  await tab.close()
  result.public_status = await setVisibility('public')

  // The list's stop action: the row shows the preview asleep.
  await page.locator(`tr[data-app="${appId}"] button[data-action="stop"]`).click()
  result.stopped_state = await waitFor(
    'the row to show the preview stopped',
    async () => {
      const state = await page.locator(`tr[data-app="${appId}"] td.state`).textContent()
      return ['stopped', 'suspended'].includes(state) ? state : null
    },
    30_000,
    100,
  )

  // The list's wake action: the row shows the preview running again.
  await page.locator(`tr[data-app="${appId}"] button[data-action="wake"]`).click()
  result.woken_state = await waitFor(
    'the row to show the preview running',
    async () => {
      const state = await page.locator(`tr[data-app="${appId}"] td.state`).textContent()
      return state === 'running' ? state : null
    },
    90_000,
    100,
  )
  // The frame is attached again and shows the last revision again.
  await waitFor('the frame to show the app after the wake', async () => (await shown()) === `${newText} again`, 90_000, 100)
  await onScreen(result.fixed_revision, 'rendered')
} finally {
  await close()
}
result.problems = problems
console.log(JSON.stringify(result))
