import type { FastifyReply, onRequestHookHandler } from 'fastify'
import { GatewayClosingError } from '../errors.js'

/** The answer to a request the gateway will not serve because it is shutting down; the connection is closed after it. */
export function answerClosing (reply: FastifyReply): void {
  reply.header('connection', 'close')
  reply.send(new GatewayClosingError())
}

/**
 * The proxy routes' onRequest hook: once shutdown has begun (`isClosing()`), every request still
 * arriving gets 503 GATEWAY_CLOSING before anything else runs. WebSocket upgrades go through the
 * router too (proxy/upgrade.ts), so they are answered the same way before any socket is relayed.
 */
export function closingCheck (isClosing: () => boolean): onRequestHookHandler {
  return function refuseWhileClosing (_request, reply, done) {
    if (isClosing()) answerClosing(reply)
    else done()
  }
}
