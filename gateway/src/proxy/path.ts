const ENCODED_SEPARATOR = /%2f|%5c|%00/i

/**
 * Whether a request target may be forwarded: origin-form (`/...`, not `//...`), no dot segments, no
 * backslashes and no encoded slashes, backslashes or NULs that a later normalisation could turn into
 * a way around the route table (e.g. `/api/me/..%2F..%2Finternal/resolve`). The common case (no `%`,
 * no `/.`, no `\`) is decided with a few scans and no allocation beyond the query split.
 */
export function isForwardablePath (url: string): boolean {
  if (url.charCodeAt(0) !== 0x2f /* / */ || url.charCodeAt(1) === 0x2f) return false
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  if (path.includes('\\')) return false
  if (!path.includes('%') && !path.includes('/.')) return true
  if (ENCODED_SEPARATOR.test(path)) return false
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    return false
  }
  for (const segment of decoded.split('/')) {
    if (segment === '.' || segment === '..') return false
  }
  return true
}
