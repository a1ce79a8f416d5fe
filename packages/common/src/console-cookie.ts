// The agent console's session cookie (docs/console.md#sessions). The session service sets and clears it; the
// gateway reads it. Over HTTPS (CONSOLE_COOKIE_SECURE=true, as behind nginx) it carries the `__Host-` prefix,
// which browsers accept only with Secure, Path=/ and no Domain: no subdomain can set or shadow it. The plain
// name is for the http development default, where a Secure cookie would not be sent back.

export const CONSOLE_COOKIE_PLAIN = 'weapp_console'
export const CONSOLE_COOKIE_HOST = '__Host-weapp_console'
/** The header that carries the CSRF token on every state-changing console request. */
export const CSRF_HEADER = 'x-csrf-token'

export function consoleCookieName (secure: boolean): string {
  return secure ? CONSOLE_COOKIE_HOST : CONSOLE_COOKIE_PLAIN
}

/** `Set-Cookie` for a new console session. */
export function serializeConsoleCookie (value: string, options: { secure: boolean, maxAgeSec: number }): string {
  const attributes = [`${consoleCookieName(options.secure)}=${value}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(options.maxAgeSec))}`, 'HttpOnly', 'SameSite=Strict']
  if (options.secure) attributes.push('Secure')
  return attributes.join('; ')
}

/** `Set-Cookie` that removes the console cookie (logout). */
export function clearConsoleCookie (secure: boolean): string {
  return serializeConsoleCookie('', { secure, maxAgeSec: 0 })
}

/**
 * The console cookie's value in a `Cookie` header, or undefined. Only the configured name counts (a plain
 * cookie is ignored over HTTPS); a value that is not a base64url token is treated as absent.
 */
export function readConsoleCookie (header: string | undefined, secure: boolean): string | undefined {
  if (header === undefined || header.length === 0) return undefined
  const name = consoleCookieName(secure)
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue
    const value = part.slice(eq + 1).trim()
    return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined
  }
  return undefined
}
