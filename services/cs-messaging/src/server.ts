import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { runService } from '@weapp/common'
import { loadCsConfig } from './config.js'
import csApp, { csServerOptions } from './app.js'

// The entry point: validate the environment (a missing secret stops here, named), build, listen.
let config
try {
  config = loadCsConfig()
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}

const app = await runService({
  host: config.HOST,
  port: config.PORT,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  build: async () => {
    const instance = Fastify(csServerOptions(config))
    await instance.register(fp(csApp, { name: 'cs-messaging-app' }), { config })
    return instance
  }
})
app.log.info({
  port: config.PORT,
  mongo: config.MONGO_URL !== undefined,
  redis: config.REDIS_URL !== undefined,
  encrypted: config.WECHAT_ENCODING_AES_KEY !== undefined,
  worker: config.WORKER_ENABLED
}, 'cs-messaging service ready')
