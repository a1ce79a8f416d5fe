import { configPlugin } from '@weapp/common'
import type { SessionConfig } from '../config.js'
import { OptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated service configuration. */
    sessionConfig: SessionConfig
  }
}

/** `sessionConfig` and `clock` (everything that computes expiries asks it, so tests can move time). */
export default configPlugin<SessionConfig>({ name: 'session-config', decorator: 'sessionConfig', optionsInvalid: OptionsInvalidError })
