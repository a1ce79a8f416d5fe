import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { NotFoundError } from './errors.js'
import { StoreUnavailableError, isStoreUnavailable } from './mongo-timeouts.js'

export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

const STATUS_NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

/**
 * What a client reads on a 5xx: the error's message may carry what an upstream said (WeChat's errmsg),
 * a driver's error text or an internal name, so it goes to the log and the client gets this instead.
 */
export const GENERIC_5XX_MESSAGES: Readonly<Record<number, string>> = Object.freeze({
  500: 'Internal server error',
  501: 'Not implemented',
  502: 'An upstream service failed',
  503: 'Service unavailable, retry later',
  504: 'An upstream service did not answer in time'
})
const GENERIC_5XX_OTHER = 'Server error'

const PUBLIC_MESSAGE = Symbol.for('weapp.error.publicMessage')

/**
 * Marks error classes whose message is a text of our own, safe to show on a 5xx (it says what to do, and
 * nothing an upstream sent): e.g. "the admin API is disabled: set ADMIN_API_KEYS". Everything else is
 * answered with GENERIC_5XX_MESSAGES.
 */
export function exposeMessages (...errors: Array<{ prototype: object }>): void {
  for (const E of errors) Object.defineProperty(E.prototype, PUBLIC_MESSAGE, { value: true, configurable: true })
}

// Says what to do (retry) and nothing the driver said.
exposeMessages(StoreUnavailableError)

export function errorBody (statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_NAMES[statusCode] ?? 'Error', message }
}

/**
 * One error handler for every service: 4xx errors keep their code and message; 5xx errors keep their
 * stable code (500: INTERNAL_ERROR) with a generic message, and their detail is logged with the request id.
 */
export function installErrorHandling (app: FastifyInstance): void {
  app.setErrorHandler((raw: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // A database that did not answer in time is an upstream failure (503, retry), not a bug (500); the log keeps the driver's error.
    const err: FastifyError = isStoreUnavailable(raw) ? new StoreUnavailableError({ cause: raw }) : raw
    let status = err.statusCode ?? 500
    if (status < 400 || status > 599) status = 500
    if (status >= 500) {
      const code = status === 500 ? 'INTERNAL_ERROR' : (err.code ?? 'UPSTREAM_ERROR')
      request.log.error({ err: raw, code, status }, 'request failed')
      const exposed = status !== 500 && (err as { [PUBLIC_MESSAGE]?: unknown })[PUBLIC_MESSAGE] === true
      return reply.code(status).send(errorBody(status, code, exposed ? err.message : GENERIC_5XX_MESSAGES[status] ?? GENERIC_5XX_OTHER))
    }
    if (err.validation !== undefined) {
      return reply.code(400).send(errorBody(400, 'VALIDATION_FAILED', err.message))
    }
    request.log.info({ code: err.code, status }, err.message)
    return reply.code(status).send(errorBody(status, err.code ?? 'BAD_REQUEST', err.message))
  })
  app.setNotFoundHandler((request, reply) => {
    const err = new NotFoundError(request.method, request.url.split('?')[0] ?? '')
    return reply.code(404).send(errorBody(404, err.code, err.message))
  })
}
