import { configPlugin } from '@weapp/common'
import type { CsConfig } from '../config.js'
import { OptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated service configuration. */
    csConfig: CsConfig
  }
}

/** `csConfig` and `clock` (push timestamps, windows and retries ask it, so tests can move time). */
export default configPlugin<CsConfig>({ name: 'cs-config', decorator: 'csConfig', optionsInvalid: OptionsInvalidError })
