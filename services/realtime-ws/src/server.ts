import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { runService } from '@weapp/common'
import { loadRealtimeConfig } from './config.js'
import realtimeApp, { realtimeServerOptions } from './app.js'

// The entry point: validate the environment (a missing secret stops here, named), build, listen.
let config
try {
  config = loadRealtimeConfig()
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}

const app = await runService({
  host: config.HOST,
  port: config.PORT,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  build: async () => {
    const instance = Fastify(realtimeServerOptions(config))
    await instance.register(fp(realtimeApp, { name: 'realtime-app' }), { config })
    return instance
  }
})
app.log.info({ port: config.PORT, redis: config.REDIS_URL !== undefined }, 'realtime-ws service ready')
