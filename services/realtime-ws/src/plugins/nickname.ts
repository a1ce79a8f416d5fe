import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { httpNicknameLookup, type NicknameLookup } from '../hub/nickname.js'
import { WsOptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The greeting's name for an identity (session service GET /api/me by default). */
    wsNickname: NicknameLookup
  }
}

export interface NicknamePluginOptions {
  lookup?: NicknameLookup
}

async function nicknamePlugin (app: FastifyInstance, opts: NicknamePluginOptions): Promise<void> {
  if (opts.lookup !== undefined && typeof opts.lookup !== 'function') throw new WsOptionsInvalidError('nickname lookup must be a function')
  const log = app.log.child({ component: 'nickname' })
  app.decorate('wsNickname', opts.lookup ?? httpNicknameLookup({
    sessionUrl: app.wsConfig.SESSION_URL,
    internalToken: app.wsConfig.INTERNAL_TOKEN,
    timeoutMs: app.wsConfig.SESSION_TIMEOUT_MS,
    onError: (err) => { log.warn({ err }, 'nickname lookup failed: greeting with the openid') }
  }))
}

export default fp(nicknamePlugin, { name: 'ws-nickname', fastify: '5.x', dependencies: ['ws-config'] })
