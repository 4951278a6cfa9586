// One opened app: its file tree, the editor (a save is one revision), the
// live preview in an iframe, its log followed live, and its compile and
// runtime errors as they happen (the preview's `render` events and the
// framed page's `postMessage` events). Opening another app stops the
// streams and the heartbeat of the one before.

import { attachPreview } from './api.js'
import { createEditor } from './editor.js'
import { buildTree, renderTree } from './tree.js'
import { $, describe, say } from './ui.js'

/** The most log lines kept on the page. */
const MAX_LOG_LINES = 2000
/** The most error entries kept on the page. */
const MAX_ERRORS = 100

let editor = null
/** The opened app: `{client, appId, path, dirty, files, stop()}`. */
let opened = null

function ensureEditor() {
  if (editor) return editor
  editor = createEditor($('#editor'), {
    onSave: () => save(),
    onChange: () => {
      if (!opened?.path) return
      opened.dirty = true
      $('#save').disabled = false
      $('#save-status').textContent = 'unsaved changes'
    },
  })
  $('#save').addEventListener('click', () => save())
  $('#new-file').addEventListener('click', () => {
    const path = prompt('Path of the new file (e.g. src/util.js)')
    if (path && opened) startFile(path.trim(), '')
  })
  $('#app-provision').addEventListener('click', () => runAction('start', (client, appId) => client.provision(appId, { wait: false })))
  $('#app-restart').addEventListener('click', () => runAction('restart', (client, appId) => client.restart(appId)))
  $('#app-link').addEventListener('click', () => runAction('private link', (client, appId) => mintLink(client, appId)))
  return editor
}

async function runAction(label, action) {
  if (!opened) return
  try {
    await action(opened.client, opened.appId)
    say(`${opened.appId}: ${label} asked.`)
  } catch (error) {
    say(`${label} ${opened.appId} failed: ${describe(error)}`, 'error')
  }
}

/** Mints a private preview link (the server's default lifetime) and shows it to open or copy. */
async function mintLink(client, appId) {
  const link = await client.createPreviewLink(appId)
  if (opened?.appId !== appId) return
  const anchor = $('#private-link')
  anchor.href = link.url
  anchor.dataset.expiresAt = link.expires_at
  anchor.textContent = `private link, until ${new Date(link.expires_at).toLocaleString()}`
  anchor.hidden = false
}

/** Opens `appId`: files, preview frame, events, logs. */
export async function openApp(client, appId) {
  opened?.stop()
  ensureEditor()
  const controller = new AbortController()
  const current = { client, appId, path: null, dirty: false, files: [], stop: () => controller.abort() }
  // The framed preview: its URL, the function that detaches it, and whether it is let go (stopped here).
  Object.assign(current, { url: null, detach: null, released: false })
  opened = current
  $('#app').hidden = false
  $('#app-title').textContent = appId
  $('#errors').replaceChildren()
  $('#logs').textContent = ''
  $('#private-link').hidden = true
  $('#save-status').textContent = ''
  $('#editor-path').textContent = 'no file open'
  $('#save').disabled = true
  editor.open('', '')
  await loadTree(current)

  let preview = null
  try {
    preview = await client.getPreview(appId)
  } catch (error) {
    say(`${appId} has no preview yet (${describe(error)}); start it with "Start preview".`)
  }
  showPreview(preview)
  $('#preview-frame').src = 'about:blank'
  current.show = (url) => {
    current.url = url ?? current.url
    if (!current.url || current.detach || current.released || opened !== current) return
    $('#app-open').href = current.url
    current.detach = attachPreview($('#preview-frame'), {
      client,
      appId,
      src: current.url,
      onMessage: (message) => pageEvent(message),
      onError: (error) => say(`heartbeat: ${describe(error)}`, 'error'),
    })
  }
  controller.signal.addEventListener('abort', () => current.detach?.())
  current.show(preview?.url)
  const onEvent = (event) => {
    if (opened !== current) return
    if (event.type === 'render') {
      showRender(event.render)
      // A new verdict follows a sync-status report: read the revision on disk with it.
      client.getPreview(appId).then((fresh) => opened === current && showPreview(fresh)).catch(() => {})
    } else if (event.preview) {
      showPreview(event.preview)
      current.show(event.preview.url)
    }
  }
  const signal = controller.signal
  client.followEvents(appId, onEvent, { signal }).catch((error) => say(`events: ${describe(error)}`, 'error'))
  client.followLogs(appId, (line) => opened === current && logLine(line), { signal, since: 0 }).catch((error) => say(`logs: ${describe(error)}`, 'error'))
}

/**
 * Lets the opened app's preview go before it is stopped: an open page (its
 * HMR client reconnecting) and the heartbeats would wake it again at once.
 */
export function releasePreview(appId) {
  if (opened?.appId !== appId) return
  opened.released = true
  opened.detach?.()
  opened.detach = null
  $('#preview-frame').src = 'about:blank'
}

/** Frames the opened app's preview again (after a wake). */
export function resumePreview(appId) {
  if (opened?.appId !== appId) return
  opened.released = false
  opened.show()
}

async function loadTree(current) {
  try {
    const manifest = await current.client.listFiles(current.appId)
    current.files = manifest.files
    renderTree($('#tree'), buildTree(manifest.files), { selected: current.path, onOpen: (path) => openFile(current, path) })
  } catch (error) {
    say(`Files of ${current.appId}: ${describe(error)}`, 'error')
  }
}

async function openFile(current, path) {
  if (current.dirty && !confirm(`Discard the unsaved changes to ${current.path}?`)) return
  try {
    const bytes = await current.client.readFileBytes(current.appId, path)
    let text
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      say(`${path} is not UTF-8 text (${bytes.byteLength} bytes); the editor opens text files only.`, 'error')
      return
    }
    if (opened === current) startFile(path, text)
  } catch (error) {
    say(`Reading ${path} failed: ${describe(error)}`, 'error')
  }
}

function startFile(path, text) {
  opened.path = path
  editor.open(path, text)
  opened.dirty = false
  $('#editor-path').textContent = path
  $('#save').disabled = false
  $('#save-status').textContent = ''
  for (const button of document.querySelectorAll('#tree button.file')) {
    button.classList.toggle('selected', button.dataset.path === path)
  }
}

async function save() {
  const current = opened
  if (!current?.path) return
  $('#save').disabled = true
  $('#save-status').textContent = 'saving…'
  try {
    const written = await current.client.saveFile(current.appId, current.path, editor.text())
    current.dirty = false
    const status = $('#save-status')
    status.textContent = `saved revision ${written.revision}`
    status.dataset.revision = String(written.revision)
    if (!current.files.some((file) => file.path === current.path)) await loadTree(current)
  } catch (error) {
    $('#save-status').textContent = `not saved: ${describe(error)}`
  } finally {
    $('#save').disabled = false
  }
}

function showPreview(preview) {
  $('#app-state').textContent = preview?.state ?? 'no preview'
  $('#app-provision').hidden = Boolean(preview) && preview.state !== 'deleted'
  if (!preview) return
  if (preview.files_revision !== undefined || preview.applied_revision !== undefined) {
    $('#revision-disk').textContent = `${preview.files_revision ?? '–'} saved, ${preview.applied_revision ?? '–'} applied`
  }
  if (preview.render) showRender(preview.render)
  if (preview.error) addError('preview', preview.error)
}

function showRender(render) {
  $('#revision-screen').textContent = String(render.revision)
  const state = $('#render-state')
  state.textContent = render.state
  state.dataset.state = render.state
  if (render.error) {
    const where = render.error.file ? ` (${render.error.file}${render.error.line ? `:${render.error.line}` : ''})` : ''
    addError(`revision ${render.revision} ${render.error.origin}`, `${render.error.message}${where}`)
  }
}

function pageEvent(message) {
  const event = message.event ?? {}
  if (['error', 'rejection', 'overlay', 'console-error'].includes(message.type)) {
    const where = event.file ? ` (${event.file}${event.line ? `:${event.line}` : ''})` : ''
    addError(`page ${message.type}`, `${event.message ?? ''}${where}`)
  }
}

function addError(origin, text) {
  const list = $('#errors')
  const last = list.lastElementChild
  if (last && last.dataset.origin === origin && last.dataset.text === text) return
  const item = document.createElement('li')
  item.dataset.origin = origin
  item.dataset.text = text
  item.textContent = `${new Date().toLocaleTimeString()} ${origin}: ${text}`
  list.append(item)
  while (list.children.length > MAX_ERRORS) list.firstElementChild.remove()
}

function logLine(line) {
  const logs = $('#logs')
  const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4
  const entry = document.createElement('span')
  entry.className = `log-${line.source}`
  entry.textContent = `${line.at.slice(11, 19)} ${line.source} ${line.text}\n`
  logs.append(entry)
  while (logs.childNodes.length > MAX_LOG_LINES) logs.firstChild.remove()
  if (atBottom) logs.scrollTop = logs.scrollHeight
}
