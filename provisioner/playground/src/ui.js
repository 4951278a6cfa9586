// What every part of the page shares: the status line and how an error reads.

import { ApiError } from './api.js'

export const $ = (selector) => document.querySelector(selector)

/** Shows `text` in the status line; `kind` is `info` or `error`. */
export function say(text, kind = 'info') {
  const status = $('#status')
  status.textContent = text
  status.dataset.kind = kind
}

/** An error as one line: the API's code and message, else the error's message. */
export const describe = (error) => (error instanceof ApiError ? `${error.code}: ${error.message}` : String(error?.message ?? error))
