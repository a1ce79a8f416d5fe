import { redisDescriptionOf, runService } from '@weapp/common'
import { buildGateway } from './app.js'
import { loadGatewayConfig, type GatewayConfig } from './config.js'

let config: GatewayConfig
try {
  config = loadGatewayConfig()
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
}

const app = await runService({
  build: async () => await buildGateway(config),
  host: config.HOST,
  port: config.PORT,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS
})
app.log.info({ upstreams: Object.fromEntries([...app.upstreams].map(([name, u]) => [name, u.origin])), redis: redisDescriptionOf(config) }, 'gateway ready')
