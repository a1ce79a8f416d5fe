import fp from 'fastify-plugin'
import { dateClock } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import { PushDecoder } from '../push/decoder.js'
import { AutoReplyRules } from '../auto-reply/rules.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Verifies, decrypts and parses pushes. */
    pushDecoder: PushDecoder
    /** Welcome text, keyword rules, hand-over: shared by the push route (transfer) and the worker (replies). */
    autoReplyRules: AutoReplyRules
  }
}

async function pushPlugin (app: FastifyInstance): Promise<void> {
  const c = app.csConfig
  app.decorate('pushDecoder', new PushDecoder({
    token: c.WECHAT_TOKEN,
    appId: c.APP_ID,
    encodingAESKey: c.WECHAT_ENCODING_AES_KEY,
    allowPlaintext: c.PUSH_ALLOW_PLAINTEXT,
    timestampWindowSec: c.PUSH_TIMESTAMP_WINDOW_SEC,
    now: dateClock(app.clock)
  }))
  app.decorate('autoReplyRules', new AutoReplyRules({ rules: c.autoReplyRules, welcomeText: c.WELCOME_TEXT, transferAll: c.TRANSFER_TO_CS }))
}

export default fp(pushPlugin, { name: 'cs-push', fastify: '5.x', dependencies: ['cs-config'] })
