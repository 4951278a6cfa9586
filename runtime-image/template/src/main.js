import './style.css'
import { message } from './message.js'

function render(text) {
  document.querySelector('#message').textContent = text
}

render(message)

// message.js is the part an editor rewrites most; accepting it here swaps the
// text in place instead of reloading the page, so page state survives edits.
if (import.meta.hot) {
  import.meta.hot.accept('./message.js', (module) => {
    if (module) render(module.message)
  })
}
