// The playground's one door to the API: the repository's TypeScript client
// (clients/typescript, `@live-preview/client`, a `file:` dependency bundled
// in from its checked-in dist/). The page uses it as any editor would; only
// `stop` (`POST .../preview/stop`), which the client does not have yet, is
// added here, with the same error type.

import { ApiError, attachPreview, createClient as createPackageClient } from '@live-preview/client'

export { ApiError, attachPreview }

export function createClient(options) {
  const client = createPackageClient(options)
  client.stop ??= async (appId) => {
    const response = await fetch(`${options.baseUrl}/v1/apps/${encodeURIComponent(appId)}/preview/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.apiKey}` },
    })
    const body = await response.json().catch(() => null)
    if (!response.ok) {
      const code = body?.error?.code ?? `http_${response.status}`
      throw new ApiError(response.status, code, body?.error?.message ?? `stop answered ${response.status}`)
    }
    return body
  }
  return client
}
