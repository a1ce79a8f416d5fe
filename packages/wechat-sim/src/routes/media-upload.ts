import type { FastifyInstance } from 'fastify'
import { requireAccessToken } from '../access-token.js'
import { imageContentType } from '../media-store.js'
import { MultipartBody } from '../multipart.js'
import { field, stringFields, wxResponse } from '../schemas.js'
import { wxError } from '../wx-errors.js'

const uploadSchema = {
  type: 'object',
  required: ['errcode', 'errmsg', 'type', 'media_id', 'created_at'],
  properties: {
    errcode: { type: 'integer' },
    errmsg: { type: 'string' },
    type: { type: 'string' },
    media_id: { type: 'string' },
    created_at: { type: 'integer' }
  }
} as const

// Room for the multipart framing around the largest accepted file; bigger bodies are refused with 413.
const MULTIPART_OVERHEAD = 64 * 1024

/**
 * uploadTempMedia (docs/wechat/api.md#media-upload): multipart/form-data with the file in the part `media`, type=image
 * only (40004). 41005 without a file, 40006 empty or too large, 40005 not a JPEG/PNG/GIF/BMP (by the
 * part's Content-Type, else its filename's extension). The media_id lives three days.
 */
export async function mediaUploadRoutes (app: FastifyInstance): Promise<void> {
  const state = app.simState
  app.post('/cgi-bin/media/upload', {
    attachValidation: true,
    bodyLimit: state.mediaMaxBytes + MULTIPART_OVERHEAD,
    preHandler: requireAccessToken,
    schema: { querystring: stringFields('access_token', 'type'), response: wxResponse(uploadSchema) }
  }, async (request) => {
    if (field(request.query, 'type') !== 'image') return wxError(40004)
    const file = request.body instanceof MultipartBody ? request.body.files.get('media') : undefined
    if (file === undefined) return wxError(41005)
    if (file.data.length === 0 || file.data.length > state.mediaMaxBytes) return wxError(40006)
    const contentType = imageContentType(file.contentType, file.filename)
    if (contentType === undefined) return wxError(40005)
    const media = state.media.put(request.simAppId, contentType, file.data, state.now())
    return { errcode: 0, errmsg: 'ok', type: 'image', media_id: media.mediaId, created_at: Math.floor(media.createdAt / 1000) }
  })
}
