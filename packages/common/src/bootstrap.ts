import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'

export interface RunOptions {
  /** Builds the application; everything it opens must be closed by its onClose hooks. */
  build: () => Promise<FastifyInstance> | FastifyInstance
  host: string
  port: number
  shutdownTimeoutMs: number
}

/**
 * The entry point of every service: build → listen → close gracefully on SIGINT/SIGTERM or a fatal
 * error (in-flight requests finish, clients close). Returns the app so an entry file can print where it listens.
 */
export async function runService ({ build, host, port, shutdownTimeoutMs }: RunOptions): Promise<FastifyInstance> {
  const app = await build()
  const closer = closeWithGrace({ delay: shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after a fatal error')
    else app.log.info({ signal }, 'closing')
    await app.close()
  })
  app.addHook('onClose', async () => { closer.uninstall() })
  await app.listen({ host, port })
  return app
}

export interface ServiceEntry<C extends { HOST: string, PORT: number, SHUTDOWN_TIMEOUT_MS: number }> {
  name: string
  /** Reads and validates the environment; throws naming every missing or bad variable. */
  loadConfig: () => C
  serverOptions: (config: C) => FastifyServerOptions
  app: FastifyPluginAsync<{ config: C }>
  /** Non-secret facts for the "ready" log line (which stores, which modes). */
  describe?: (config: C) => Record<string, unknown>
}

/**
 * What every service's server.ts does: validate the environment (a bad one prints why and sets exit
 * code 1, nothing starts), build the app as a plugin, listen, and shut down gracefully.
 */
export async function startService<C extends { HOST: string, PORT: number, SHUTDOWN_TIMEOUT_MS: number }> (entry: ServiceEntry<C>): Promise<FastifyInstance | null> {
  let config: C
  try {
    config = entry.loadConfig()
  } catch (err) {
    console.error(`${entry.name}: ${(err as Error).message}`)
    process.exitCode = 1
    return null
  }
  let instance: FastifyInstance | undefined
  try {
    const app = await runService({
      host: config.HOST,
      port: config.PORT,
      shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      build: async () => {
        instance = Fastify(entry.serverOptions(config))
        await instance.register(fp(entry.app, { name: `${entry.name}-app` }), { config })
        return instance
      }
    })
    app.log.info({ port: config.PORT, ...entry.describe?.(config) }, `${entry.name} ready`)
    return app
  } catch (err) {
    // A store that cannot be reached or a URL its driver refuses (MONGO_URL's port 99999): a first line
    // that says why, then where (the stack, source-mapped to src/), exit code 1, and what the plugins
    // opened before the failure closed (a Redis client's reconnect timer would otherwise keep a process
    // that cannot serve alive).
    const { message, code, stack } = err as Error & { code?: unknown }
    console.error(`${entry.name}: could not start: ${message}${typeof code === 'string' ? ` (${code})` : ''}`)
    if (stack !== undefined) console.error(stack)
    process.exitCode = 1
    await instance?.close().catch(() => {})
    return null
  }
}
