// What a newcomer starts from: a small Vite app as batch changes, and a
// folder chosen in a directory <input> as batch changes (what `push` leaves
// out is left out here too).

export const STARTER_FILES = {
  'package.json': `${JSON.stringify(
    { name: 'starter', private: true, type: 'module', scripts: { dev: 'vite', build: 'vite build' }, devDependencies: { vite: '^8.3.0' } },
    null,
    2,
  )}\n`,
  'index.html': `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>Starter</title>
  </head>
  <body>
    <h1 id="message"></h1>
    <p>Edit <code>src/message.js</code> in the playground and save.</p>
    <script type="module" src="/src/main.js"></script>
  </body>
</html>
`,
  'src/message.js': `export const message = 'Hello from your preview'\n`,
  'src/main.js': `import { message } from './message.js'

const render = (text) => {
  document.querySelector('#message').textContent = text
}
render(message)

if (import.meta.hot) {
  import.meta.hot.accept('./message.js', (module) => module && render(module.message))
}
`,
}

export const starterChanges = () => Object.entries(STARTER_FILES).map(([path, content]) => ({ path, content }))

/** Folders an upload leaves out: installed packages, build output, VCS data. */
const SKIPPED = new Set(['node_modules', '.git', '.next', 'dist', '.svelte-kit', '.nuxt', '.turbo', '.cache'])

/** The app path of an uploaded file (its folder's own name removed), or null when skipped. */
export function uploadPath(relativePath) {
  const parts = relativePath.split('/').slice(1)
  if (parts.length === 0 || parts.some((part) => SKIPPED.has(part) || part === '' || part === '.' || part === '..')) return null
  return parts.join('/')
}

/** Batch changes from a directory <input>'s files (the client sends bytes base64-encoded). */
export async function folderChanges(fileList) {
  const changes = []
  for (const file of fileList) {
    const path = uploadPath(file.webkitRelativePath || file.name)
    if (path === null) continue
    changes.push({ path, content: new Uint8Array(await file.arrayBuffer()) })
  }
  return changes
}
