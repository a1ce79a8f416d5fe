import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import Type from 'typebox'
import { PushQuerySchema, errorResponses } from '../schemas.js'
import { dedupKey, typeLabel } from '../push/message.js'
import { SUCCESS_REPLY, transferReply, type PassiveReply } from '../push/reply.js'
import { PushNotReplicatedError, QueueUnavailableError } from '../errors.js'
import type { EnqueueResult } from '../queue/types.js'

/** The two paths WeChat may be configured with (docs/architecture.md#cs-messaging: /wechat/callback, and the seed's /weapp/message). */
export const PUSH_PATHS = ['/wechat/callback', '/weapp/message'] as const

declare module 'fastify' {
  interface FastifyRequest {
    /** How a push ended, for the ack-latency histogram. */
    pushOutcome: string | null
  }
}

/**
 * `work`, or a rejection once `ms` have passed. One timer and one promise per call: this runs for every
 * push, and Promise.race with a second promise and a finally step costs measurably more.
 */
async function withDeadline<T> (work: Promise<T>, ms: number): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no answer within ${ms} ms`)) }, ms)
    work.then((value) => { clearTimeout(timer); resolve(value) }, (err: unknown) => { clearTimeout(timer); reject(err) })
  })
}

function send (reply: FastifyReply, answer: PassiveReply): FastifyReply {
  return reply.code(200).type(answer.contentType).header('x-content-type-options', 'nosniff').send(answer.body)
}

/**
 * The WeChat message-push URL. Public (WeChat's servers carry no internal credential; the gateway may add
 * it, which changes nothing): the WeChat signatures are the authentication. Bodies are taken raw, whatever
 * their Content-Type, and told apart by their first character.
 */
const push: FastifyPluginAsyncTypebox = async (app) => {
  const { PUSH_BODY_LIMIT, PUSH_ACK_TIMEOUT_MS } = app.csConfig
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PUSH_BODY_LIMIT }, (_request, body, done) => { done(null, body) })
  app.decorateRequest('pushOutcome', null)

  app.addHook('onError', async (request, _reply, err) => {
    const code = (err as { code?: unknown }).code
    const status = (err as { statusCode?: number }).statusCode ?? 500
    request.pushOutcome = status >= 500 ? 'unavailable' : 'rejected'
    app.csMetrics.pushesRejected.inc({ code: typeof code === 'string' ? code : 'UNKNOWN' })
  })
  // Callback style: no promise per push.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.method === 'POST') {
      app.csMetrics.pushAckSeconds.observe({ outcome: request.pushOutcome ?? (reply.statusCode >= 500 ? 'unavailable' : 'rejected') }, reply.elapsedTime / 1000)
    }
    done()
  })

  for (const path of PUSH_PATHS) {
    app.get(path, {
      config: { public: true },
      schema: { querystring: PushQuerySchema, response: { 200: Type.String(), ...errorResponses(400, 401, 500) } }
    }, async (request, reply) => {
      const echostr = app.pushDecoder.verifyEcho(request.query)
      return send(reply, { contentType: 'text/plain; charset=utf-8', body: echostr })
    })

    app.post(path, {
      config: { public: true },
      schema: { querystring: PushQuerySchema, response: { 200: Type.String(), ...errorResponses(400, 401, 413, 500, 503) } }
    }, async (request, reply) => {
      const decoded = app.pushDecoder.decode(request.query, request.body)
      if (decoded.kind === 'probe') {
        request.pushOutcome = 'probe'
        return send(reply, SUCCESS_REPLY)
      }
      const { message, format, mode, nonce } = decoded
      const key = dedupKey(message)
      let result: EnqueueResult
      try {
        result = await withDeadline(app.inboundQueue.enqueueOnce(key, message, new Date(app.clock())), PUSH_ACK_TIMEOUT_MS)
      } catch (err) {
        if (err instanceof PushNotReplicatedError) {
          // Written on the primary, not yet on a replica: WeChat's retry is answered once one has it.
          app.csMetrics.pushesNotReplicated.inc()
          request.log.warn({ err, key }, 'push not confirmed by a replica')
          throw err
        }
        request.log.error({ err, key }, 'push not recorded')
        throw new QueueUnavailableError('queue unavailable')
      }
      request.pushOutcome = result
      if (result === 'duplicate') app.csMetrics.dedupHits.inc()
      else app.csMetrics.pushes.inc({ mode, format, type: typeLabel(message) })
      // A console hand-over is taken by the first copy, also when a rule transfers the message anyway (the
      // conversation becomes official all the same); a retried copy gets the same answer while it is official.
      const handedOver = result === 'queued' ? await app.handover.takeForPush(message) : await app.handover.repeatForRetry(message)
      // A retried push gets the same answer as the first (whose answer WeChat may never have seen).
      if (handedOver || app.autoReplyRules.decide(message).transfer) {
        return send(reply, transferReply({ message, format, mode, nonce, now: Math.floor(app.clock() / 1000), decoder: app.pushDecoder }))
      }
      return send(reply, SUCCESS_REPLY)
    })
  }
}

export default push
