import createError from '@fastify/error'
import { SESSION_TOKEN_HINT, exposeMessages } from '@weapp/common'

// Every error the gateway itself answers with. Codes are stable: never reuse one for another meaning.
// Expected, frequent errors (bad credentials, upstream down) skip the stack trace: it costs time and
// says nothing the code does not.

export const UpstreamUnavailableError = createError<[string]>('GATEWAY_UPSTREAM_UNAVAILABLE', 'Upstream %s is unavailable', 502, Error, false)
export const UpstreamTimeoutError = createError<[string]>('GATEWAY_UPSTREAM_TIMEOUT', 'Upstream %s did not answer in time', 504, Error, false)
export const UpstreamBadResponseError = createError<[string]>('GATEWAY_UPSTREAM_BAD_RESPONSE', 'Upstream %s sent an invalid response', 502)
export const GatewayClosingError = createError('GATEWAY_CLOSING', 'The gateway is shutting down', 503, Error, false)
// No credential presented (%s says what the route takes: AUTH_REQUIRED_HINTS), a session credential refused,
// too many refused from one address: defined in @weapp/common, since realtime-ws's direct upgrades answer them too.
export { SessionAuthRequiredError as AuthRequiredError, SessionCredentialInvalidError as SessionInvalidError, SessionAuthRateLimitedError as AuthRateLimitedError } from '@weapp/common'
/** What each kind of route wants presented, for AuthRequiredError. */
export const AUTH_REQUIRED_HINTS = {
  token: SESSION_TOKEN_HINT,
  adminKey: 'send Authorization: Bearer <admin key>',
  console: 'log in to the console (no console session cookie)'
} as const
export const RateLimitedError = createError<[string]>('GATEWAY_RATE_LIMITED', 'Too many requests, retry in %s', 429, Error, false)
export const MetricsClosedError = createError('GATEWAY_METRICS_CLOSED', 'Metrics are closed: the gateway has no METRICS_TOKEN', 403, Error, false)
export const MetricsUnauthorizedError = createError('GATEWAY_METRICS_UNAUTHORIZED', 'Metrics need Authorization: Bearer <METRICS_TOKEN>', 401, Error, false)
export const BadPathError = createError('GATEWAY_BAD_PATH', 'Request path is not allowed', 400, Error, false)
export const BodyTooLargeError = createError<[number]>('GATEWAY_BODY_TOO_LARGE', 'Request body is larger than %d bytes', 413, Error, false)
export const AdminKeyInvalidError = createError('GATEWAY_ADMIN_KEY_INVALID', 'Admin key invalid', 401, Error, false)
/** The console cookie names no live agent session (unknown, logged out, expired, agent disabled). */
export const ConsoleSessionInvalidError = createError<[string]>('GATEWAY_CONSOLE_SESSION_INVALID', 'Console session invalid: %s', 401, Error, false)
/** A state-changing console request (or the console socket's upgrade) without the right Origin or x-csrf-token. */
export const CsrfRejectedError = createError<[string]>('GATEWAY_CSRF_REJECTED', 'Request refused (cross-site request forgery check): %s', 403, Error, false)
/** CONSOLE_DIR holds no index.html. */
export const ConsoleNotBuiltError = createError('GATEWAY_CONSOLE_NOT_BUILT', 'The agent console is not built: run pnpm build (it writes packages/console/dist), or point CONSOLE_DIR at a build', 503, Error, false)
export const AdminDisabledError = createError('GATEWAY_ADMIN_DISABLED', 'The admin API is disabled: no admin key is configured on the gateway (set ADMIN_API_KEYS)', 503, Error, false)

// Texts of our own (an upstream's name, what to configure), never what an upstream said: shown on their
// 5xx answers as they are; other 5xx messages are replaced by a generic one (@weapp/common error handler).
exposeMessages(UpstreamUnavailableError, UpstreamTimeoutError, UpstreamBadResponseError, GatewayClosingError, AdminDisabledError, ConsoleNotBuiltError)
