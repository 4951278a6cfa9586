// The playground's entry: takes the operator key (from a `#key=` fragment,
// then removed from the address bar, or pasted; kept in sessionStorage),
// lists the previews with their actions, and creates apps from the starter
// or an uploaded folder. The opened app is `app_view.js`.

import { ApiError, createClient } from './api.js'
import { openApp } from './app_view.js'
import { folderChanges, starterChanges } from './starter.js'
import { $, describe, say } from './ui.js'

const KEY_STORAGE = 'provisioner-operator-key'
/** How often the previews list is read again. */
const LIST_REFRESH_MS = 3000
/** The most previews whose details (revisions, render) the list reads. */
const DETAILED_PREVIEWS = 30

let client = null
let refreshTimer = null

function takeKeyFromFragment() {
  const match = /(?:^#|&)key=([^&]+)/.exec(location.hash)
  if (!match) return
  sessionStorage.setItem(KEY_STORAGE, decodeURIComponent(match[1]))
  history.replaceState(null, '', location.pathname + location.search)
}

async function connect() {
  const apiKey = sessionStorage.getItem(KEY_STORAGE)
  $('#workspace').hidden = true
  $('#key-help').hidden = false
  clearInterval(refreshTimer)
  if (!apiKey) {
    say('Give the operator API key to start.')
    return
  }
  client = createClient({ baseUrl: '', apiKey })
  try {
    await refreshList()
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      sessionStorage.removeItem(KEY_STORAGE)
      say(`That key was refused (${describe(error)}); paste the operator key again.`, 'error')
      return
    }
    say(`The provisioner did not answer: ${describe(error)}`, 'error')
  }
  $('#workspace').hidden = false
  $('#key-help').hidden = true
  say('Connected.')
  refreshTimer = setInterval(() => refreshList().catch((error) => say(`List failed: ${describe(error)}`, 'error')), LIST_REFRESH_MS)
}

async function refreshList() {
  const previews = await client.listPreviews()
  const detailed = await Promise.all(
    previews.slice(0, DETAILED_PREVIEWS).map((preview) => client.getPreview(preview.app_id).catch(() => preview)),
  )
  const rows = [...detailed, ...previews.slice(DETAILED_PREVIEWS)].map(previewRow)
  $('#previews tbody').replaceChildren(...rows)
}

function previewRow(preview) {
  const row = document.createElement('tr')
  row.dataset.app = preview.app_id
  const cell = (text, className) => {
    const td = document.createElement('td')
    td.textContent = text
    if (className) td.className = className
    row.append(td)
    return td
  }
  cell(preview.app_id, 'app-id')
  cell(preview.state, 'state')
  cell(`${preview.files_revision ?? '–'} / ${preview.applied_revision ?? '–'}`, 'disk')
  const render = preview.render
  cell(render ? `${render.revision} ${render.state}` : '–', 'screen')
  const actions = cell('', 'actions')
  const action = (name, label, run) => {
    const button = document.createElement('button')
    button.type = 'button'
    button.dataset.action = name
    button.textContent = label
    button.addEventListener('click', async () => {
      try {
        await run()
        await refreshList()
      } catch (error) {
        say(`${label} ${preview.app_id} failed: ${describe(error)}`, 'error')
      }
    })
    actions.append(button)
  }
  action('open', 'open', async () => openApp(client, preview.app_id))
  action('wake', 'wake', () => client.wake(preview.app_id, { wait: false }))
  action('restart', 'restart', () => client.restart(preview.app_id))
  action('delete', 'delete', async () => {
    if (confirm(`Delete the preview of ${preview.app_id}? Its files are kept.`)) await client.destroy(preview.app_id)
  })
  return row
}

/** Saves `changes` as the app's first (or next) revision, starts its preview and opens it. */
async function createApp(appId, changes) {
  if (changes.length === 0) throw new Error('nothing to upload: the folder has no files outside node_modules/, .git/ and build output')
  say(`Saving ${changes.length} files to ${appId}…`)
  const written = await client.saveFiles(appId, changes)
  await client.provision(appId, { wait: false })
  say(`${appId}: saved revision ${written.revision}; the preview is starting (its install shows in the logs).`)
  await refreshList()
  await openApp(client, appId)
}

function wire() {
  $('#key-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const key = $('#key-input').value.trim()
    $('#key-input').value = ''
    if (key) sessionStorage.setItem(KEY_STORAGE, key)
    connect()
  })
  $('#forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORAGE)
    connect()
  })
  $('#create-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const appId = $('#create-app').value.trim()
    createApp(appId, starterChanges()).catch((error) => say(`Creating ${appId} failed: ${describe(error)}`, 'error'))
  })
  $('#upload-folder').addEventListener('change', async (event) => {
    const input = event.target
    const folder = input.files[0]?.webkitRelativePath.split('/')[0] ?? ''
    const appId = $('#create-app').value.trim() || folder.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')
    try {
      await createApp(appId, await folderChanges(input.files))
    } catch (error) {
      say(`Uploading ${folder} as ${appId} failed: ${describe(error)}`, 'error')
    }
    input.value = ''
  })
}

takeKeyFromFragment()
wire()
connect()
