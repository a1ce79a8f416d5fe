import fp from 'fastify-plugin'
import { BusChannels, dateClock } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import { PushDecoder } from '../push/decoder.js'
import { AutoReplyRules } from '../auto-reply/rules.js'
import { Handover } from '../push/handover.js'
import { MemoryHandoverRequests, RedisHandoverRequests } from '../push/handover-requests.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Verifies, decrypts and parses pushes. */
    pushDecoder: PushDecoder
    /** Welcome text, keyword rules, hand-over: shared by the push route (transfer) and the worker (replies). */
    autoReplyRules: AutoReplyRules
    /** The console's hand-over to WeChat's official tool: requested, then done on the user's next message. */
    handover: Handover
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
  await decorateHandover(app)
}

async function decorateHandover (app: FastifyInstance): Promise<void> {
  const redis = app.csRedis
  const requests = redis === null ? new MemoryHandoverRequests() : new RedisHandoverRequests({ redis, appId: app.csConfig.APP_ID })
  app.addHook('onClose', async () => { requests.close() })
  if (requests instanceof RedisHandoverRequests) {
    // Redis may be away at boot: the periodic refresh reads the set when it is back.
    await requests.refresh().catch((err: unknown) => { app.log.warn({ err }, 'hand-over requests not read yet') })
    // Another instance's request, at once (the refresh catches up on a lost event).
    await app.bus.subscribe(BusChannels.console, (e) => {
      if (e.type === 'console.event' && e.event.type === 'conversation' && e.event.conversation.handover === 'requested') requests.heard(e.event.conversation.openid)
    })
  }
  app.decorate('handover', new Handover({ requests, conversations: app.conversationsRepository, tracker: app.conversationTracker, log: app.log.child({ component: 'handover' }) }))
}

export default fp(pushPlugin, { name: 'cs-push', fastify: '5.x', dependencies: ['cs-config', 'cs-redis', '@weapp/bus', 'cs-conversations'] })
