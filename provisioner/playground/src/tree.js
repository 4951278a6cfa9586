// The file tree: the manifest's flat paths as nested folders, drawn as
// lists. Pure `buildTree` (tested by the page's use) and a thin renderer.

/** `{dirs: Map<name, node>, files: [{name, path, size}]}` from manifest entries, sorted. */
export function buildTree(entries) {
  const root = { dirs: new Map(), files: [] }
  for (const entry of entries) {
    const parts = entry.path.split('/')
    let node = root
    for (const part of parts.slice(0, -1)) {
      if (!node.dirs.has(part)) node.dirs.set(part, { dirs: new Map(), files: [] })
      node = node.dirs.get(part)
    }
    node.files.push({ name: parts[parts.length - 1], path: entry.path, size: entry.size })
  }
  return root
}

/** Draws `tree` into `container`; `onOpen(path)` when a file is clicked. */
export function renderTree(container, tree, { selected, onOpen }) {
  container.replaceChildren(list(tree, selected, onOpen))
}

function list(node, selected, onOpen) {
  const ul = document.createElement('ul')
  for (const name of [...node.dirs.keys()].sort()) {
    const li = document.createElement('li')
    const details = document.createElement('details')
    details.open = true
    const summary = document.createElement('summary')
    summary.textContent = `${name}/`
    details.append(summary, list(node.dirs.get(name), selected, onOpen))
    li.append(details)
    ul.append(li)
  }
  for (const file of [...node.files].sort((a, b) => a.name.localeCompare(b.name))) {
    const li = document.createElement('li')
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'file'
    button.dataset.path = file.path
    button.textContent = file.name
    button.title = `${file.path} (${file.size} bytes)`
    if (file.path === selected) button.classList.add('selected')
    button.addEventListener('click', () => onOpen(file.path))
    li.append(button)
    ul.append(li)
  }
  return ul
}
