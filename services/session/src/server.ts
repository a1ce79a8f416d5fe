import { redisDescriptionOf, startService } from '@weapp/common'
import { loadSessionConfig } from './config.js'
import sessionApp, { sessionServerOptions } from './app.js'

// The entry point: validate the environment (a missing secret stops here, named), build, listen.
await startService({
  name: 'session',
  loadConfig: () => loadSessionConfig(),
  serverOptions: sessionServerOptions,
  app: sessionApp,
  describe: (config) => ({ mongo: config.MONGO_URL !== undefined, redis: redisDescriptionOf(config) })
})
