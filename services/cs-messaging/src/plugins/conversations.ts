import fp from 'fastify-plugin'
import { dateClock } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import { ConversationTracker } from '../conversations/tracker.js'
import { MemoryTypingThrottle, RedisTypingThrottle, type TypingThrottle } from '../conversations/typing-throttle.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Updates conversations with the messages in and out and publishes the console's events. */
    conversationTracker: ConversationTracker
    /** The console's typing calls: one per conversation per 15 s. */
    typingThrottle: TypingThrottle
  }
}

async function conversationsPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('conversationTracker', new ConversationTracker({
    conversations: app.conversationsRepository,
    messages: app.messagesRepository,
    windows: app.sendWindows,
    bus: app.bus,
    now: dateClock(app.clock),
    log: app.log.child({ component: 'conversations' })
  }))
  const throttle: TypingThrottle = app.csRedis === null ? new MemoryTypingThrottle() : new RedisTypingThrottle({ redis: app.csRedis, appId: app.csConfig.APP_ID })
  app.decorate('typingThrottle', throttle)
}

export default fp(conversationsPlugin, {
  name: 'cs-conversations',
  fastify: '5.x',
  dependencies: ['cs-config', 'cs-redis', 'cs-repositories', 'cs-queue', '@weapp/bus']
})
