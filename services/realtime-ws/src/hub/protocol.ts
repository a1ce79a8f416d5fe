// Frame formats: the JSON envelope on /ws and the wafer tunnel's `type:payload` text frames.

export type ClientEnvelope =
  | { type: 'subscribe', channel: unknown }
  | { type: 'unsubscribe', channel: unknown }
  | { type: 'ping', id?: unknown }

const ENVELOPE_TYPES = new Set(['subscribe', 'unsubscribe', 'ping'])

/**
 * A text frame is an envelope message only if it is a JSON object with a known `type`; anything else
 * (plain text, other JSON) is echoed as the seed did.
 */
export function parseEnvelope (text: string): ClientEnvelope | null {
  const first = text.trimStart()[0]
  if (first !== '{') return null
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { return null }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null
  const type = (parsed as { type?: unknown }).type
  if (typeof type !== 'string' || !ENVELOPE_TYPES.has(type)) return null
  return parsed as ClientEnvelope
}

export const CHANNEL_PATTERN = /^[\w.:@-]{1,128}$/

/** The seed's echo and greeting, byte for byte. */
export const greeting = (name: string): string => `Server: 恭喜，${name}`
export const echo = (message: string): string => `Server: Received(${message})`

export interface TunnelFrame { type: string, payload: string | null }

/** `type` or `type:payload`, split on the first ':'. */
export function parseTunnelFrame (text: string): TunnelFrame {
  const i = text.indexOf(':')
  return i === -1 ? { type: text, payload: null } : { type: text.slice(0, i), payload: text.slice(i + 1) }
}

export interface TunnelMessage { type: string, content: unknown }

export function parseTunnelMessage (payload: string | null): TunnelMessage | null {
  if (payload === null) return null
  let parsed: unknown
  try { parsed = JSON.parse(payload) } catch { return null }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null
  const { type, content } = parsed as { type?: unknown, content?: unknown }
  if (typeof type !== 'string' || type === '') return null
  return { type, content: content ?? null }
}

export const tunnelMessage = (type: string, content: unknown): string => `message:${JSON.stringify({ type, content })}`
