// `/` canned replies: typing "/" at the start of the reply box opens the menu, the text after it filters.

import type { CannedReply } from '@weapp/common'

/** The filter typed after a leading "/" (up to the first whitespace), or null when the menu is closed. */
export function cannedQuery (draft: string): string | null {
  const match = /^\/(\S*)$/.exec(draft)
  return match === null ? null : (match[1] ?? '').toLowerCase()
}

/** The replies whose shortcut starts with the query first, then those containing it in shortcut or text. */
export function filterCanned (replies: readonly CannedReply[], query: string, limit = 8): CannedReply[] {
  const q = query.toLowerCase()
  const starts = replies.filter((r) => r.shortcut.toLowerCase().startsWith(q))
  const contains = replies.filter((r) => !starts.includes(r) && (r.shortcut.toLowerCase().includes(q) || r.text.toLowerCase().includes(q)))
  return [...starts, ...contains].slice(0, limit)
}
