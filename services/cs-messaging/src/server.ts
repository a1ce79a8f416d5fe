import { redisDescriptionOf, startService } from '@weapp/common'
import { loadCsConfig } from './config.js'
import csApp, { csServerOptions } from './app.js'

// The entry point: validate the environment (a missing secret stops here, named), build, listen.
await startService({
  name: 'cs-messaging',
  loadConfig: () => loadCsConfig(),
  serverOptions: csServerOptions,
  app: csApp,
  describe: (config) => ({
    mongo: config.MONGO_URL !== undefined,
    redis: redisDescriptionOf(config),
    encrypted: config.WECHAT_ENCODING_AES_KEY !== undefined,
    plaintext: config.PUSH_ALLOW_PLAINTEXT,
    worker: config.WORKER_ENABLED
  })
})
