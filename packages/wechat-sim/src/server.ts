import { CommonEnv, loadConfig, loggerOptions, runService } from '@weapp/common'
import { buildSimulator } from './app.js'
import { DEFAULT_SIM_APP } from './defaults.js'
import type { PushFormat, PushMode } from './push-sender.js'
import type { SimApp } from './state.js'

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
    SIM_APP_SECRET: { type: 'string', pattern: '^[0-9A-Za-z]{16,64}$' },
    /** Where the simulated app's message pushes go (POST /sim/push); also settable with POST /sim/push-config. */
    SIM_PUSH_URL: { type: 'string', pattern: '^https?://' },
    SIM_PUSH_TOKEN: { type: 'string', pattern: '^[A-Za-z0-9]{3,32}$' },
    SIM_PUSH_AES_KEY: { type: 'string', pattern: '^[A-Za-z0-9+/]{43}$' },
    SIM_PUSH_MODE: { type: 'string', enum: ['plaintext', 'compatible', 'safe'] },
    SIM_PUSH_FORMAT: { type: 'string', enum: ['xml', 'json'] },
    /** Messages allowed after the user enters the session: 2 (current docs) or 1 (older docs). */
    SIM_ENTER_SESSION_ALLOWANCE: { type: 'integer', minimum: 1, maximum: 5 }
  }
}

interface SimConfig {
  HOST: string
  LOG_LEVEL: string
  SHUTDOWN_TIMEOUT_MS: number
  PORT: number
  SIM_APP_ID?: string
  SIM_APP_SECRET?: string
  SIM_PUSH_URL?: string
  SIM_PUSH_TOKEN?: string
  SIM_PUSH_AES_KEY?: string
  SIM_PUSH_MODE?: PushMode
  SIM_PUSH_FORMAT?: PushFormat
  SIM_ENTER_SESSION_ALLOWANCE?: number
}

let config: SimConfig
try {
  config = loadConfig(SimEnv as unknown as Parameters<typeof loadConfig>[0]) as unknown as SimConfig
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}

if ((config.SIM_PUSH_URL === undefined) !== (config.SIM_PUSH_TOKEN === undefined)) {
  console.error('SIM_PUSH_URL and SIM_PUSH_TOKEN go together')
  process.exit(1)
}

const simApp: SimApp = { appId: config.SIM_APP_ID ?? DEFAULT_SIM_APP.appId, appSecret: config.SIM_APP_SECRET ?? DEFAULT_SIM_APP.appSecret }
if (config.SIM_PUSH_URL !== undefined && config.SIM_PUSH_TOKEN !== undefined) {
  simApp.push = {
    url: config.SIM_PUSH_URL,
    token: config.SIM_PUSH_TOKEN,
    ...(config.SIM_PUSH_AES_KEY === undefined ? {} : { encodingAESKey: config.SIM_PUSH_AES_KEY }),
    ...(config.SIM_PUSH_MODE === undefined ? {} : { mode: config.SIM_PUSH_MODE }),
    ...(config.SIM_PUSH_FORMAT === undefined ? {} : { format: config.SIM_PUSH_FORMAT })
  }
}

const app = await runService({
  build: () => buildSimulator({
    apps: [simApp],
    ...(config.SIM_ENTER_SESSION_ALLOWANCE === undefined ? {} : { enterSessionAllowance: config.SIM_ENTER_SESSION_ALLOWANCE }),
    logger: loggerOptions('wechat-sim', config.LOG_LEVEL)
  }),
  host: config.HOST,
  port: config.PORT,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS
})
app.log.info({ appId: app.simState.defaultAppId }, 'WeChat simulator ready')
