import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireAgent } from '@weapp/common'
import { MediaIdSchema, errorResponses } from '../../schemas.js'
import { declaredType } from '../../outbound/images.js'
import { readImageUpload, registerImageUploads } from '../api/media.js'

/** A media_id lives three days: the browser may keep the image as long. */
const CACHE_CONTROL = 'private, max-age=259200'
/** Raster types only: an SVG (script inside) or anything else is never rendered from our origin. */
const INLINE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/bmp', 'image/webp'])

/**
 * The console's images. Uploads go through the media cache (the same image is uploaded to WeChat once per
 * three days, its bytes kept for a new upload); `GET` shows a picture in the console (a user's, or a card
 * thumbnail) through us, since the console's CSP allows images from its own origin only.
 */
const consoleMedia: FastifyPluginAsyncTypebox = async (app) => {
  await registerImageUploads(app)

  app.post('/media', {
    schema: {
      consumes: ['multipart/form-data'],
      response: {
        201: Type.Object({ mediaId: Type.String(), expiresAt: Type.String({ format: 'date-time' }) }),
        ...errorResponses(400, 401, 403, 413, 415, 500, 501, 502, 503, 504)
      }
    }
  }, async (request, reply) => {
    requireAgent(request)
    const service = app.outboundService
    const { data, type, filename } = await readImageUpload(request, app.csConfig.MEDIA_UPLOAD_MAX_BYTES, () => { service.refusedUpload() })
    const uploaded = await app.consoleMedia.upload({ filename, contentType: type, data })
    request.log.info({ mediaId: uploaded.mediaId, bytes: data.length, type, reused: uploaded.reused }, 'console image uploaded')
    return await reply.code(201).send({ mediaId: uploaded.mediaId, expiresAt: uploaded.expiresAt.toISOString() })
  })

  app.get('/media/:mediaId', {
    schema: {
      params: Type.Object({ mediaId: MediaIdSchema }),
      response: { 200: Type.Unsafe<Buffer>({ description: 'the image' }), ...errorResponses(400, 401, 403, 404, 500, 501, 502, 503, 504) }
    }
  }, async (request, reply) => {
    requireAgent(request)
    const { mediaId } = request.params
    // Our own uploads are served from the kept bytes (no WeChat call, and still there after three days).
    const kept = await app.consoleMedia.kept(mediaId)
    const file = kept !== null
      ? { contentType: kept.contentType, body: kept.data }
      : await app.outboundService.getMedia(mediaId)
    // Shown inline as an image; anything else is only ever a download.
    const type = declaredType(file.contentType)
    const isImage = type !== undefined && INLINE_TYPES.has(type)
    reply
      .type(isImage ? type! : 'application/octet-stream')
      .header('content-length', file.body.length)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', CACHE_CONTROL)
    if (!isImage) reply.header('content-disposition', 'attachment')
    return await reply.send(file.body)
  })
}

export default consoleMedia
