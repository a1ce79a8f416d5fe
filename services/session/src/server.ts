import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { runService } from '@weapp/common'
import { loadSessionConfig } from './config.js'
import sessionApp, { sessionServerOptions } from './app.js'

// The entry point: validate the environment (a missing secret stops here, named), build, listen.
let config
try {
  config = loadSessionConfig()
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}

const app = await runService({
  host: config.HOST,
  port: config.PORT,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  build: async () => {
    const instance = Fastify(sessionServerOptions(config))
    await instance.register(fp(sessionApp, { name: 'session-app' }), { config })
    return instance
  }
})
app.log.info({ port: config.PORT, mongo: config.MONGO_URL !== undefined, redis: config.REDIS_URL !== undefined }, 'session service ready')
