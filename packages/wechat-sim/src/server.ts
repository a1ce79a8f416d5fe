import { CommonEnv, loadConfig, loggerOptions, runService } from '@weapp/common'
import { buildSimulator } from './app.js'
import { DEFAULT_SIM_APP } from './defaults.js'

// Plain JSON schema (typebox is not a dependency of this package); CommonEnv's entries are JSON schemas too.
const SimEnv = {
  type: 'object',
  required: ['HOST', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS', 'PORT'],
  properties: {
    HOST: CommonEnv.HOST,
    LOG_LEVEL: CommonEnv.LOG_LEVEL,
    SHUTDOWN_TIMEOUT_MS: CommonEnv.SHUTDOWN_TIMEOUT_MS,
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8090 },
    /** Override the simulated app; each defaults to DEFAULT_SIM_APP's value. */
    SIM_APP_ID: { type: 'string', pattern: '^wx[0-9A-Za-z]{16}$' },
    SIM_APP_SECRET: { type: 'string', pattern: '^[0-9A-Za-z]{16,64}$' }
  }
}

interface SimConfig {
  HOST: string
  LOG_LEVEL: string
  SHUTDOWN_TIMEOUT_MS: number
  PORT: number
  SIM_APP_ID?: string
  SIM_APP_SECRET?: string
}

let config: SimConfig
try {
  config = loadConfig(SimEnv as unknown as Parameters<typeof loadConfig>[0]) as unknown as SimConfig
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}

const app = await runService({
  build: () => buildSimulator({
    apps: [{ appId: config.SIM_APP_ID ?? DEFAULT_SIM_APP.appId, appSecret: config.SIM_APP_SECRET ?? DEFAULT_SIM_APP.appSecret }],
    logger: loggerOptions('wechat-sim', config.LOG_LEVEL)
  }),
  host: config.HOST,
  port: config.PORT,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS
})
app.log.info({ appId: app.simState.defaultAppId }, 'WeChat simulator ready')
