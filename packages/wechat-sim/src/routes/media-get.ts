import type { FastifyInstance } from 'fastify'
import { requireAccessToken } from '../access-token.js'
import { field, stringFields, wxErrorSchema } from '../schemas.js'
import { wxError } from '../wx-errors.js'

/**
 * getTempMedia (docs/wechat/api.md#media-download): the raw bytes with their Content-Type and
 * `Content-disposition: attachment; filename="<media_id>.<ext>"`, or JSON 40007 for a media_id that is
 * missing, unknown, another app's or past its three days.
 */
export async function mediaGetRoutes (app: FastifyInstance): Promise<void> {
  app.get('/cgi-bin/media/get', {
    attachValidation: true,
    preHandler: requireAccessToken,
    // Only the JSON failure goes through the serializer; the file is sent as a Buffer.
    schema: { querystring: stringFields('access_token', 'media_id'), response: { 200: wxErrorSchema } }
  }, async (request, reply) => {
    const state = app.simState
    const mediaId = field(request.query, 'media_id')
    const found = mediaId === undefined ? undefined : state.media.get(request.simAppId, mediaId, state.now())
    if (found === undefined || !found.ok) return wxError(40007)
    const { media } = found
    return reply
      .type(media.contentType)
      .header('content-disposition', `attachment; filename="${media.filename}"`)
      .send(media.data)
  })
}
