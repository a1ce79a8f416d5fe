import type { BusEvent } from './types.js'

// The bus hub's wire protocol (docs/console.md#without-redis-the-bus-hub): realtime-ws serves it on
// BUS_HUB_PATH when it runs without Redis, and the other processes reach it with BusHubClient. Text frames
// of JSON, client → hub `{op:'sub'|'unsub', channel}` and `{op:'pub', channel, event}`, hub → client
// `{channel, event}`: Redis pub/sub's semantics (at most once, nothing kept) over one WebSocket.

export const BUS_HUB_PATH = '/internal/bus'

/** The bounds both ends keep, so a client refuses locally what the hub would drop it for. */
export const BUS_HUB_LIMITS = {
  /** Largest frame either way (an event plus its envelope). */
  maxFrameBytes: 1024 * 1024,
  /** Channels one client may subscribe to (the services use five). */
  maxChannelsPerClient: 256,
  /** Connected processes (each service instance and gateway holds one connection). */
  maxClients: 64,
  /** Unsent bytes a hub client may fall behind by before the hub drops it (as Redis drops a slow subscriber). */
  maxBufferedBytes: 8 * 1024 * 1024,
  /** Channel names: printable ASCII without spaces, like the services' `weapp:*`. */
  maxChannelLength: 256
} as const

const CHANNEL = /^[\x21-\x7e]+$/

export type BusHubClientFrame =
  | { op: 'sub' | 'unsub', channel: string }
  | { op: 'pub', channel: string, event: BusEvent }

export interface BusHubDelivery { channel: string, event: BusEvent }

export function isBusHubChannel (value: unknown): value is string {
  return typeof value === 'string' && value.length <= BUS_HUB_LIMITS.maxChannelLength && CHANNEL.test(value)
}

function isEvent (value: unknown): value is BusEvent {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { type?: unknown }).type === 'string'
}

/** A client's frame, or null when it is not one (not JSON, unknown op, bad channel, event without a type). */
export function parseBusHubClientFrame (text: string): BusHubClientFrame | null {
  let frame: unknown
  try { frame = JSON.parse(text) } catch { return null }
  if (typeof frame !== 'object' || frame === null) return null
  const { op, channel, event } = frame as Record<string, unknown>
  if (!isBusHubChannel(channel)) return null
  if (op === 'sub' || op === 'unsub') return { op, channel }
  if (op === 'pub' && isEvent(event)) return { op, channel, event }
  return null
}

/** A delivery from the hub, or null when the frame is not one. */
export function parseBusHubDelivery (text: string): BusHubDelivery | null {
  let frame: unknown
  try { frame = JSON.parse(text) } catch { return null }
  if (typeof frame !== 'object' || frame === null) return null
  const { channel, event } = frame as Record<string, unknown>
  return isBusHubChannel(channel) && isEvent(event) ? { channel, event } : null
}
