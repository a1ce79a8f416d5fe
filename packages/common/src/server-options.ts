import { randomUUID } from 'node:crypto'
import { LogController, type FastifyServerOptions } from 'fastify'
import { loggerOptions } from './logger.js'
import { lazyChildLoggerFactory } from './lazy-logger.js'
import { REQUEST_ID_HEADER } from './identity-header.js'

export interface ServerOptionsInput {
  service: string
  logLevel: string
  /** Largest accepted request body. */
  bodyLimit?: number
}

const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/

/** Fastify options shared by every service: timeouts set, request ids propagated, logging configured. */
export function serverOptions ({ service, logLevel, bodyLimit = 64 * 1024 }: ServerOptionsInput): FastifyServerOptions {
  return {
    logger: loggerOptions(service, logLevel),
    bodyLimit,
    connectionTimeout: 30_000,
    keepAliveTimeout: 72_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
    requestIdHeader: false,
    // Propagate a well-formed upstream id, otherwise mint one: ids end up in logs, keep them tame.
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID_HEADER]
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID()
    },
    // Per-request log lines cost measurable CPU on hot paths; they are on at debug level only.
    // A request's pino child is made only when something logs through it (most requests never do).
    childLoggerFactory: lazyChildLoggerFactory,
    logController: new LogController({ requestIdLogLabel: 'reqId', disableRequestLogging: logLevel !== 'debug' && logLevel !== 'trace' }),
    routerOptions: { ignoreTrailingSlash: true }
  }
}
