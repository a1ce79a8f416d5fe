import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'

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
