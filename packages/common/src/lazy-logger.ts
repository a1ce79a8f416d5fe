import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'

type FastifyChildLoggerFactory = NonNullable<FastifyServerOptions['childLoggerFactory']>

type Bindings = Record<string, unknown>
type Args = [unknown, ...unknown[]]
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

interface ParentLogger extends FastifyBaseLogger {
  isLevelEnabled?: (level: string) => boolean
}

/**
 * A request's logger that becomes a real pino child only when something is logged through it.
 * Fastify makes a child logger for every request; with the redaction paths every service uses,
 * pino spends about 1.5 µs per child (measured on these machines), while most requests never log.
 * A performance device: its measured gain and its off switch are at its one use, server-options.ts.
 */
class LazyChildLogger {
  readonly #parent: ParentLogger
  readonly #bindings: Bindings
  readonly #options: object
  #child: FastifyBaseLogger | null = null

  constructor (parent: ParentLogger, bindings: Bindings, options: object) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  #real (): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }

  #log (level: Level, args: Args): void {
    const parent = this.#parent
    if (this.#child === null && parent.isLevelEnabled !== undefined && !parent.isLevelEnabled(level)) return
    const logger = this.#real() as unknown as Record<Level, (...a: unknown[]) => void>
    logger[level](...args)
  }

  get level (): string { return this.#child?.level ?? this.#parent.level }
  set level (level: string) { this.#real().level = level }

  fatal (...args: Args): void { this.#log('fatal', args) }
  error (...args: Args): void { this.#log('error', args) }
  warn (...args: Args): void { this.#log('warn', args) }
  info (...args: Args): void { this.#log('info', args) }
  debug (...args: Args): void { this.#log('debug', args) }
  trace (...args: Args): void { this.#log('trace', args) }
  silent (): void {}

  child (bindings: Bindings, options?: object): FastifyBaseLogger {
    return this.#real().child(bindings, options)
  }
}

/** Fastify `childLoggerFactory`: request loggers are created lazily unless they carry options of their own. */
export const lazyChildLoggerFactory: FastifyChildLoggerFactory = function (logger, bindings, options) {
  const opts = options as { level?: unknown, serializers?: unknown } | undefined
  if (opts !== undefined && (opts.level !== undefined || opts.serializers !== undefined)) return logger.child(bindings, options)
  return new LazyChildLogger(logger as ParentLogger, bindings as Bindings, options ?? {}) as unknown as FastifyBaseLogger
}
