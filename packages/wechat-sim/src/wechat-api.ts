import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { parseMultipart } from './multipart.js'
import { checksessionRoutes } from './routes/checksession.js'
import { customSendRoutes } from './routes/custom-send.js'
import { jscode2sessionRoutes } from './routes/jscode2session.js'
import { mediaGetRoutes } from './routes/media-get.js'
import { mediaUploadRoutes } from './routes/media-upload.js'
import { phoneRoutes } from './routes/phone.js'
import { stableTokenRoutes } from './routes/stable-token.js'
import { tokenRoutes } from './routes/token.js'
import { typingRoutes } from './routes/typing.js'
import { wxError } from './wx-errors.js'

/** A JSON object, or null for anything else (form data, text, arrays, broken JSON). */
function parseJsonObject (text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null
  } catch {
    return null
  }
}

/**
 * The simulated api.weixin.qq.com. Every call is counted for /sim/stats and may be held back or
 * answered by a queued fault before its handler runs. New API routes register inside this plugin.
 */
export async function wechatApi (app: FastifyInstance): Promise<void> {
  const state = app.simState

  // WeChat never answers 400/415: whatever the body is, the handler sees a JSON object or null and
  // reports missing fields with errcodes, as the real API does for form-encoded bodies.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseJsonObject(body as string))
  })
  // media/upload's file: a MultipartBody, or null when the form cannot be parsed (the route answers 41005).
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (request, body, done) => {
    parseMultipart(request, body as Buffer).then((parsed) => done(null, parsed), done)
  })
  app.decorateRequest('simAppId', '')

  app.addHook('onRoute', (route) => { state.apiPaths.add(route.url) })

  app.addHook('onRequest', async (request, reply) => {
    const path = request.routeOptions.url
    if (path === undefined) return
    state.countCall(path)
    const fault = state.faults.take(path)
    if (fault === undefined) return
    if (fault.delayMs > 0) await sleep(fault.delayMs)
    if (fault.errcode !== undefined) return reply.send(wxError(fault.errcode, fault.errmsg))
  })

  await app.register(jscode2sessionRoutes)
  await app.register(tokenRoutes)
  await app.register(stableTokenRoutes)
  await app.register(checksessionRoutes)
  await app.register(phoneRoutes)
  await app.register(customSendRoutes)
  await app.register(typingRoutes)
  await app.register(mediaUploadRoutes)
  await app.register(mediaGetRoutes)
}
