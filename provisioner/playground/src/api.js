// Every call the playground makes to the provisioner, behind the interface of
// the repository's TypeScript client (clients/typescript): `createClient`,
// the file and preview calls, `followEvents`/`followLogs` (SSE read through
// fetch, since EventSource cannot send the key, resumed after a drop) and
// `attachPreview`. The page imports this module only, so moving to the
// package is a change of this one file.

/** A refusal from the API: its status and the documented `{"error":{code,message}}`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

const encodePath = (path) => path.split('/').map(encodeURIComponent).join('/')
const app = (appId) => `/v1/apps/${encodeURIComponent(appId)}`

export function createClient({ baseUrl = '', apiKey }) {
  async function call(method, path, { body, contentType, signal, headers = {} } = {}) {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(contentType ? { 'content-type': contentType } : {}),
        ...headers,
      },
      body,
      signal,
      cache: 'no-store',
    })
    if (!response.ok) {
      let code = 'http_error'
      let message = `${method} ${path} answered ${response.status}`
      try {
        const refusal = await response.json()
        code = refusal.error?.code ?? code
        message = refusal.error?.message ?? message
      } catch {
        // Not the documented JSON: keep the status line.
      }
      throw new ApiError(response.status, code, message)
    }
    return response
  }
  const json = async (method, path, options) => (await call(method, path, options)).json()
  const sendJson = (method, path, value) =>
    json(method, path, { body: JSON.stringify(value), contentType: 'application/json' })

  /** Follows an SSE route, reconnecting after a drop at `pathAfter(last event id)`. */
  async function follow(pathAfter, onEvent, { signal } = {}) {
    let lastId = null
    while (!signal?.aborted) {
      try {
        const response = await call('GET', pathAfter(lastId), { signal })
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += value
          let end
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event = parseEvent(block)
            if (event.id !== null) lastId = event.id
            if (event.data !== null) onEvent(event)
          }
        }
      } catch (error) {
        if (signal?.aborted) return
        if (error instanceof ApiError && error.status < 500 && error.status !== 429) throw error
      }
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }

  const client = {
    listPreviews: async () => (await json('GET', '/v1/previews')).previews,
    getPreview: (appId) => json('GET', `${app(appId)}/preview`),
    provision: (appId) => json('POST', `${app(appId)}/provision-preview?wait=false`),
    wake: (appId) => json('POST', `${app(appId)}/wake-preview?wait=false`),
    restart: (appId) => json('POST', `${app(appId)}/preview/restart`),
    destroy: (appId) => json('DELETE', `${app(appId)}/preview`),
    heartbeat: (appId) => call('POST', `${app(appId)}/activity`),
    listFiles: (appId) => json('GET', `${app(appId)}/files`),
    /** The file's bytes (an ArrayBuffer): the page decides whether it is text. */
    readFile: async (appId, path) => (await call('GET', `${app(appId)}/files/${encodePath(path)}`)).arrayBuffer(),
    saveFile: (appId, path, content) =>
      json('PUT', `${app(appId)}/files/${encodePath(path)}`, { body: content }),
    /** `changes`: `{path, content}` | `{path, content_base64}` | `{path, delete: true}`, one revision. */
    saveFiles: (appId, changes) => sendJson('POST', `${app(appId)}/files`, { changes }),
    /** `onEvent({type, data})`: `snapshot`, `state`, `step` (a preview) and `render` (its render report). */
    followEvents: (appId, onEvent, options) =>
      follow(() => `${app(appId)}/preview/events`, (event) => onEvent({ type: event.type, data: JSON.parse(event.data) }), options),
    /** `onLine({at, source, text})` for the kept lines, then live ones. */
    followLogs: (appId, onLine, options) =>
      follow((last) => `${app(appId)}/logs/stream?since=${last ?? 0}`, (event) => event.type === 'line' && onLine(JSON.parse(event.data)), options),
  }
  return client
}

function parseEvent(block) {
  const event = { type: 'message', data: null, id: null }
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') event.type = value
    else if (field === 'id') event.id = value
    else if (field === 'data') event.data = event.data === null ? value : `${event.data}\n${value}`
  }
  return event
}

/**
 * Keeps the framed preview awake while the tab is visible (a heartbeat every
 * 30 s) and passes the preview's `postMessage` events (format v1, from the
 * preview's own origin only) to `onMessage`. Returns the function that stops both.
 */
export function attachPreview(iframe, { client, appId, onMessage }) {
  const beat = () => {
    if (document.visibilityState === 'visible') client.heartbeat(appId).catch(() => {})
  }
  const timer = setInterval(beat, 30_000)
  beat()
  const listener = (message) => {
    if (message.source !== iframe.contentWindow) return
    let origin
    try {
      origin = new URL(iframe.src).origin
    } catch {
      return
    }
    const data = message.data
    if (message.origin !== origin || data?.source !== 'preview' || data.version !== 1) return
    onMessage?.(data)
  }
  window.addEventListener('message', listener)
  return () => {
    clearInterval(timer)
    window.removeEventListener('message', listener)
  }
}
