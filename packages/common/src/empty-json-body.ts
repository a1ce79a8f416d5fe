import type { FastifyInstance } from 'fastify'

/**
 * Makes an empty `application/json` body count as no body (the route's schema decides whether one is
 * needed) instead of Fastify's 400 FST_ERR_CTP_EMPTY_JSON_BODY. wx.request sends exactly that for a POST
 * without data, so a mini-program's `POST /api/ws/tickets` or `POST /api/logout` would otherwise fail.
 * Anything else is parsed by Fastify's own JSON parser (prototype-poisoning protection included).
 */
export function acceptEmptyJsonBody (app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text === '') { done(null, undefined); return }
    parseJson(request, text, done)
  })
}
