import { configPlugin } from '@weapp/common'
import type { RealtimeConfig } from '../config.js'
import { WsOptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated service configuration. */
    wsConfig: RealtimeConfig
  }
}

/** `wsConfig` and `clock` (ticket expiry in memory and session ends ask it, so tests can move time). */
export default configPlugin<RealtimeConfig>({ name: 'ws-config', decorator: 'wsConfig', optionsInvalid: WsOptionsInvalidError })
