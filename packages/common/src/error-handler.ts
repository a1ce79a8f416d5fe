import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { NotFoundError } from './errors.js'

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
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

export function errorBody (statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_NAMES[statusCode] ?? 'Error', message }
}

/**
 * One error handler for every service: 4xx errors keep their code and message, 5xx details are
 * logged with the request context and hidden from the client.
 */
export function installErrorHandling (app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let status = err.statusCode ?? 500
    if (status < 400 || status > 599) status = 500
    if (status >= 500) {
      request.log.error({ err }, 'request failed')
      const code = status === 500 ? 'INTERNAL_ERROR' : (err.code ?? 'UPSTREAM_ERROR')
      return reply.code(status).send(errorBody(status, code, status === 500 ? 'Internal server error' : err.message))
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
