import { randomUUID } from 'node:crypto'
import { LogController, type FastifyServerOptions } from 'fastify'
import { loggerOptions } from './logger.js'
import { lazyChildLoggerFactory } from './lazy-logger.js'
import { REQUEST_ID_HEADER } from './identity-header.js'
import { VALIDATE_SCHEMAS } from './schema-checks.js'

export interface ServerOptionsInput {
  service: string
  logLevel: string
  /** Largest accepted request body. */
  bodyLimit?: number
}

const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/

/**
 * PERFORMANCE DEVICE: lazy request loggers (lazy-logger.ts), in every service. Gain measured 2026-12-03
 * (load average 9–22, other work on the machine): `pnpm bench:proxy` mode gateway:eager-loggers (`--variant
 * eager-loggers:LAZY_REQUEST_LOGGERS=0`) spent 1.69× the gateway's CPU per request at full load (median of
 * 5 rounds, rounds 1.10–1.99) and 1.18× at 1,500 req/s offered (rounds 0.57–4.5); in process,
 * 5.6 µs per request (`inject` of a small GET: 114.4 against 120.6 µs, median of 4 alternated rounds, every
 * round 1.7–12.1 µs; `npx tsx bench/devices.ts --devices loggers`).
 * Off: LAZY_REQUEST_LOGGERS=0 (read once at start): Fastify's own pino child per request.
 */
const LAZY_REQUEST_LOGGERS = process.env.LAZY_REQUEST_LOGGERS !== '0'

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
    ...(LAZY_REQUEST_LOGGERS ? { childLoggerFactory: lazyChildLoggerFactory } : {}),
    logController: new LogController({ requestIdLogLabel: 'reqId', disableRequestLogging: logLevel !== 'debug' && logLevel !== 'trace' }),
    routerOptions: { ignoreTrailingSlash: true },
    ajv: { customOptions: { validateSchema: VALIDATE_SCHEMAS } }
  }
}
