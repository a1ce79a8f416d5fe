import fp from 'fastify-plugin'
import { dateClock } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import { UnwiredOutboundSender, WechatOutboundSender, hasCustomMessageApi, type OutboundSender } from '../outbound/sender.js'
import { OptionsInvalidError } from '../errors.js'
import { OutboundService } from '../outbound/service.js'
import { CheckedSender } from '../outbound/checked-sender.js'
import { ConsoleMediaCache } from '../outbound/media-cache.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Talks to WeChat (message/custom/send), or refuses when nothing can send. */
    outboundSender: OutboundSender
    /** The one send path: window check, message log, metrics, quota rule (the worker's auto-replies and outboundService). */
    checkedSender: CheckedSender
    /** The admin API's WeChat side: checked and recorded sends, typing, temporary media. */
    outboundService: OutboundService
    /** The console's images: uploaded once per three days, uploaded again from the kept bytes after a 40007. */
    consoleMedia: ConsoleMediaCache
  }
}

export interface OutboundPluginOptions {
  /** Use this sender instead (tests record what would be sent). */
  sender?: OutboundSender
}

/**
 * The sender: given one, that; otherwise WeChat's message/custom/send when APP_SECRET is set and the
 * client offers sendCustomMessage; otherwise a sender that refuses (auto-replies are then skipped). The
 * worker and the admin API's service both send through one CheckedSender over it.
 */
async function outboundPlugin (app: FastifyInstance, opts: OutboundPluginOptions): Promise<void> {
  const log = app.log.child({ component: 'outbound' })
  app.decorate('outboundSender', pickSender(app, opts))
  app.decorate('checkedSender', new CheckedSender({
    transport: app.outboundSender,
    windows: app.sendWindows,
    messages: app.messagesRepository,
    metrics: app.csMetrics,
    now: dateClock(app.clock),
    log,
    observer: app.conversationTracker
  }))
  app.decorate('outboundService', new OutboundService({
    sender: app.checkedSender,
    api: app.csWechat,
    tokens: app.csAccessTokens,
    bus: app.bus,
    metrics: app.csMetrics,
    log,
    mediaDownloadMaxBytes: app.csConfig.MEDIA_DOWNLOAD_MAX_BYTES
  }))
  const service = app.outboundService
  app.decorate('consoleMedia', new ConsoleMediaCache({ store: app.consoleMediaRepository, upload: async (r) => await service.uploadImage(r), now: dateClock(app.clock) }))
}

function pickSender (app: FastifyInstance, opts: OutboundPluginOptions): OutboundSender {
  if (opts.sender !== undefined) {
    if (typeof opts.sender?.send !== 'function') throw new OptionsInvalidError('sender must have a send method')
    return opts.sender
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
  if (sender instanceof UnwiredOutboundSender) app.log.warn({ reason: sender.reason }, 'no outbound sender: auto-replies are skipped, the send API answers 501')
  return sender
}

export default fp(outboundPlugin, {
  name: 'cs-outbound',
  fastify: '5.x',
  dependencies: ['cs-config', 'cs-wechat', 'cs-queue', 'cs-repositories', '@weapp/bus', 'cs-metrics', 'cs-conversations']
})
