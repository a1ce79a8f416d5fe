import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { UnwiredOutboundSender, WechatOutboundSender, hasCustomMessageApi, type OutboundSender } from '../outbound/sender.js'
import { OptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Sends customer-service messages (auto-replies now, the admin send API later). */
    outboundSender: OutboundSender
  }
}

export interface OutboundPluginOptions {
  /** Use this sender instead (tests record what would be sent). */
  sender?: OutboundSender
}

/**
 * The sender: given one, that; otherwise WeChat's message/custom/send when APP_SECRET is set and the
 * client offers sendCustomMessage; otherwise a sender that refuses (auto-replies are then skipped).
 */
async function outboundPlugin (app: FastifyInstance, opts: OutboundPluginOptions): Promise<void> {
  if (opts.sender !== undefined) {
    if (typeof opts.sender?.send !== 'function') throw new OptionsInvalidError('sender must have a send method')
    app.decorate('outboundSender', opts.sender)
    return
  }
  const { csWechat: wechat, csAccessTokens: accessTokens } = app
  let sender: OutboundSender
  if (wechat === null || accessTokens === null) {
    sender = new UnwiredOutboundSender('APP_SECRET is not configured')
  } else if (hasCustomMessageApi(wechat)) {
    sender = new WechatOutboundSender({ api: wechat, tokens: accessTokens })
  } else {
    sender = new UnwiredOutboundSender('the WeChat client has no sendCustomMessage')
  }
  if (sender instanceof UnwiredOutboundSender) app.log.warn({ reason: sender.reason }, 'no outbound sender: auto-replies will be skipped')
  app.decorate('outboundSender', sender)
}

export default fp(outboundPlugin, { name: 'cs-outbound', fastify: '5.x', dependencies: ['cs-config', 'cs-wechat'] })
