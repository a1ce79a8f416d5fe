import { redisDescriptionOf, startService } from '@weapp/common'
import { loadRealtimeConfig } from './config.js'
import realtimeApp, { realtimeServerOptions } from './app.js'

// The entry point: validate the environment (a missing secret stops here, named), build, listen.
await startService({
  name: 'realtime-ws',
  loadConfig: () => loadRealtimeConfig(),
  serverOptions: realtimeServerOptions,
  app: realtimeApp,
  describe: (config) => ({ redis: redisDescriptionOf(config) })
})
