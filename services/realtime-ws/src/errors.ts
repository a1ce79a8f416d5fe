import createError from '@fastify/error'
import { exposeMessages } from '@weapp/common'

// Every error the realtime service raises. Codes are stable: never reuse one for another meaning.

/** An upgrade without a ticket or a forwarded identity. */
export const WsAuthRequiredError = createError<[string]>('WS_AUTH_REQUIRED', 'Authentication required: %s', 401)
/** The console socket (`/console/ws`) opened by anything but an agent's console session (a user, an admin key). */
export const WsAgentRequiredError = createError('WS_AGENT_REQUIRED', 'Forbidden: the console socket is for console agents only', 403)
/** The ticket is unknown, already used, expired or meant for another endpoint. */
export const WsTicketInvalidError = createError('WS_TICKET_INVALID', 'Ticket unknown, already used or expired', 401)
/** The session behind the identity was logged out, revoked or reached its absolute expiry. */
export const WsSessionEndedError = createError<[string]>('WS_SESSION_ENDED', 'Session ended: %s', 401)
/** GET /weapp/tunnel without PUBLIC_WS_ORIGIN from a non-loopback host: the URL is never built from a client's Host. */
export const WsPublicOriginUnsetError = createError('WS_PUBLIC_ORIGIN_UNSET', 'PUBLIC_WS_ORIGIN is not configured: tunnel URLs are only built for loopback hosts without it', 503)
/** The ticket store (Redis) did not answer in time or failed. */
export const WsTicketStoreUnavailableError = createError('WS_TICKET_STORE_UNAVAILABLE', 'Connection tickets are unavailable, try again', 503)
/** A direct upgrade's session credential could not be checked: the session service did not answer (in SESSION_TIMEOUT_MS) or answered nonsense. */
export const WsSessionLookupUnavailableError = createError('WS_SESSION_LOOKUP_UNAVAILABLE', 'The session could not be checked, try again', 503, Error, false)
// Texts of our own that say what to do: shown on the 503 (other 5xx messages stay generic).
exposeMessages(WsPublicOriginUnsetError, WsTicketStoreUnavailableError, WsSessionLookupUnavailableError)
/** A plain HTTP request to a WebSocket-only path. */
export const WsUpgradeRequiredError = createError('WS_UPGRADE_REQUIRED', 'This path only accepts WebSocket upgrades', 426)
/** A plugin was registered with options it cannot work with. */
export const WsOptionsInvalidError = createError<[string]>('WS_OPTIONS_INVALID', 'Invalid realtime service options: %s', 500)

/** Codes sent inside `{"type":"error"}` envelopes on an open socket (not HTTP errors). */
export const WsFrameErrors = {
  channelForbidden: 'WS_CHANNEL_FORBIDDEN',
  badMessage: 'WS_BAD_MESSAGE',
  tooManyChannels: 'WS_TOO_MANY_CHANNELS',
  /** A console socket frame that is not JSON or not one of the contract's client frames (hello, viewing, typing). */
  badFrame: 'WS_BAD_FRAME'
} as const

/** Close codes this service uses. */
export const CloseCodes = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  tryAgainLater: 1013,
  /** The socket's session was logged out, revoked or reached its absolute expiry: log in again. */
  sessionEnded: 4001,
  /** More frames than MAX_FRAMES_PER_SEC (per socket or per user): reconnect after a back-off, send less. */
  rateLimited: 4029
} as const
