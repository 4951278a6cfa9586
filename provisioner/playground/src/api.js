// The playground's one door to the API: the repository's TypeScript client
// (clients/typescript, `@live-preview/client`, a `file:` dependency bundled
// in from its checked-in dist/). The page uses it as any editor would.

export { ApiError, attachPreview, createClient } from '@live-preview/client'
