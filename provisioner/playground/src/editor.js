// The code editor: CodeMirror 6 with the language of the open file's
// extension, and Mod-S to save. One editor for the page; opening a file
// swaps its state, so each file starts with its own undo history.
//
// It lives in a shadow root: there CodeMirror's styles go into a constructed
// stylesheet, which the page's policy (`style-src 'self'`, no inline styles)
// allows, where in the document it would add a refused <style> element.

import { basicSetup } from 'codemirror'
import { EditorView, keymap } from '@codemirror/view'
import { EditorState } from '@codemirror/state'
import { javascript } from '@codemirror/lang-javascript'
import { html } from '@codemirror/lang-html'
import { css } from '@codemirror/lang-css'
import { json } from '@codemirror/lang-json'

/** The language support for a path, by its extension; none for other files. */
export function languageFor(path) {
  const extension = path.slice(path.lastIndexOf('.') + 1).toLowerCase()
  switch (extension) {
    case 'js':
    case 'mjs':
    case 'cjs':
      return [javascript()]
    case 'jsx':
      return [javascript({ jsx: true })]
    case 'ts':
    case 'mts':
      return [javascript({ typescript: true })]
    case 'tsx':
      return [javascript({ jsx: true, typescript: true })]
    case 'html':
    case 'htm':
    case 'vue':
    case 'svelte':
      return [html()]
    case 'css':
      return [css()]
    case 'json':
      return [json()]
    default:
      return []
  }
}

/**
 * Mounts the editor in `parent`. `onSave()` runs on Mod-S; `onChange()` on
 * each edit. Returns `{open(path, text), text(), view}`.
 */
export function createEditor(parent, { onSave, onChange }) {
  const saveKey = keymap.of([{ key: 'Mod-s', preventDefault: true, run: () => (onSave(), true) }])
  const fill = EditorView.theme({ '&': { height: '100%' }, '.cm-scroller': { fontFamily: 'ui-monospace, monospace' } })
  const changes = EditorView.updateListener.of((update) => {
    if (update.docChanged) onChange()
  })
  const stateFor = (path, text) =>
    EditorState.create({ doc: text, extensions: [saveKey, basicSetup, changes, fill, languageFor(path)] })
  const host = document.createElement('div')
  host.className = 'editor-host'
  parent.append(host)
  const root = host.attachShadow({ mode: 'open' })
  const view = new EditorView({ parent: root, root, state: stateFor('', '') })
  return {
    view,
    open(path, text) {
      view.setState(stateFor(path, text))
    },
    text: () => view.state.doc.toString(),
  }
}
