import type { FastifyError } from 'fastify'
import { GatewayClosingError, UpstreamBadResponseError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.js'
import type { UpstreamErrorKind } from '../metrics.js'

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])
const CLOSING_CODES = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED'])
const BAD_RESPONSE_CODES = new Set(['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_EXCEEDED_MAX_SIZE', 'HPE_INVALID_CONSTANT', 'HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_CONTENT_LENGTH', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_CHUNK_SIZE', 'HPE_INVALID_STATUS', 'HPE_INVALID_VERSION'])

function codeOf (err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') return code
  // Happy-eyeballs connects fail with an AggregateError of the attempts.
  const errors = (err as { errors?: unknown }).errors
  if (Array.isArray(errors)) return codeOf(errors[0])
  return undefined
}

/** What an undici failure means for the caller. Unknown failures count as "unavailable". */
export function classifyUpstreamError (err: unknown): UpstreamErrorKind {
  const code = codeOf(err)
  if (code === undefined) return 'unavailable'
  if (TIMEOUT_CODES.has(code)) return 'timeout'
  if (CLOSING_CODES.has(code)) return 'closing'
  if (BAD_RESPONSE_CODES.has(code) || code.startsWith('HPE_')) return 'bad_response'
  return 'unavailable'
}

/** Connection-level failures worth one more try on a fresh connection (idempotent requests only). */
export function isRetryable (err: unknown): boolean {
  const code = codeOf(err)
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE'
}

export function upstreamError (kind: UpstreamErrorKind, upstream: string): FastifyError {
  switch (kind) {
    case 'timeout': return new UpstreamTimeoutError(upstream)
    case 'closing': return new GatewayClosingError()
    case 'bad_response': return new UpstreamBadResponseError(upstream)
    default: return new UpstreamUnavailableError(upstream)
  }
}
