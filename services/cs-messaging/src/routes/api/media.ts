import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import multipart from '@fastify/multipart'
import Type from 'typebox'
import { requireAdmin } from '@weapp/common'
import { MediaIdSchema, errorResponses } from '../../schemas.js'
import {
  MediaMissingError, MediaNotMultipartError, MediaTooLargeError, MediaTypeUnsupportedError, MediaUploadInvalidError
} from '../../errors.js'
import { UPLOAD_IMAGE_TYPES, attachmentDisposition, declaredType, sniffImageType, uploadFilename } from '../../outbound/images.js'

/** The form field the image must be sent in (as WeChat's own media/upload names it). */
export const MEDIA_FIELD = 'media'
/** A browser may send a few text fields along; they are read and ignored. */
const MAX_FIELDS = 8

/** A multipart error (@fastify/multipart's FST_* or a parse error) as this API's stable codes. */
function uploadError (err: unknown, maxBytes: number): Error {
  const code = (err as { code?: unknown } | null)?.code
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE': return new MediaTooLargeError(maxBytes)
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE': return new MediaNotMultipartError()
    case 'FST_FILES_LIMIT': return new MediaUploadInvalidError('send one file only')
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT': return new MediaUploadInvalidError(`send the file with at most ${MAX_FIELDS} other fields`)
    case 'FST_PROTO_VIOLATION': return new MediaUploadInvalidError('a field name is not allowed')
    default: return new MediaUploadInvalidError(err instanceof Error ? err.message : 'unreadable multipart body')
  }
}

/** Multipart for image uploads, in the registering plugin's scope: one file of at most MEDIA_UPLOAD_MAX_BYTES. */
export async function registerImageUploads (app: FastifyInstance): Promise<void> {
  await app.register(multipart, {
    limits: { fileSize: app.csConfig.MEDIA_UPLOAD_MAX_BYTES, files: 1, fields: MAX_FIELDS, parts: MAX_FIELDS + 1, fieldSize: 1024, fieldNameSize: 100, headerPairs: 100 }
  })
}

export interface ImageUpload {
  data: Buffer
  /** image/jpeg, image/png or image/gif, by the bytes. */
  type: string
  /** A safe filename with the extension of `type`. */
  filename: string
}

/**
 * The image of an upload form (the field `media`), checked: the admin API's and the console's uploads.
 * Refusals (CS_MEDIA_*) are thrown after `refused()` is called (the metric).
 */
export async function readImageUpload (request: FastifyRequest, maxBytes: number, refused: () => void): Promise<ImageUpload> {
  const refuse = (err: Error): Error => {
    refused()
    return err
  }
  // Not an upload at all: refused without counting it as one.
  if (!request.isMultipart()) throw new MediaNotMultipartError()
  // Every part is read (a browser may add text fields); the one file must be in the field `media`.
  let file: { data: Buffer, filename: string, mimetype: string } | undefined
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file') continue
      if (part.fieldname !== MEDIA_FIELD) {
        part.file.resume()
        throw new MediaMissingError(`the file must be in the form field "${MEDIA_FIELD}"`)
      }
      file = { data: await part.toBuffer(), filename: part.filename, mimetype: part.mimetype }
    }
  } catch (err) {
    throw refuse(err instanceof MediaMissingError ? err : uploadError(err, maxBytes))
  }
  if (file === undefined) throw refuse(new MediaMissingError(`the form has no file; send the image in the field "${MEDIA_FIELD}"`))
  const { data } = file
  if (data.length === 0) throw refuse(new MediaMissingError('the file is empty'))
  // The bytes decide; a declared type (other than the generic one) must agree with them.
  const type = sniffImageType(data)
  if (type === undefined || !UPLOAD_IMAGE_TYPES.has(type)) throw refuse(new MediaTypeUnsupportedError('the file is not a JPEG, PNG or GIF image'))
  const declared = declaredType(file.mimetype)
  if (declared !== undefined && declared !== 'application/octet-stream' && declared !== type) {
    throw refuse(new MediaTypeUnsupportedError(`the part says ${declared} but the file is ${type}`))
  }
  return { data, type, filename: uploadFilename(file.filename, type) }
}

const UploadedSchema = Type.Object({
  mediaId: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  /** WeChat forgets the media three days after the upload. */
  expiresAt: Type.String({ format: 'date-time' })
})

/**
 * Temporary media (docs/wechat/api.md#temporary-media): upload an image for image and miniprogrampage messages,
 * fetch a media_id (ours, or a picture a user sent).
 */
const media: FastifyPluginAsyncTypebox = async (app) => {
  await registerImageUploads(app)

  app.post('/media', {
    schema: {
      consumes: ['multipart/form-data'],
      response: { 201: UploadedSchema, ...errorResponses(400, 401, 403, 413, 415, 500, 501, 502, 503, 504) }
    }
  }, async (request, reply) => {
    requireAdmin(request)
    const service = app.outboundService
    const { data, type, filename } = await readImageUpload(request, app.csConfig.MEDIA_UPLOAD_MAX_BYTES, () => { service.refusedUpload() })
    const uploaded = await service.uploadImage({ filename, contentType: type, data })
    request.log.info({ mediaId: uploaded.mediaId, bytes: data.length, type }, 'image uploaded')
    return await reply.code(201)
      .header('location', `${request.url.split('?')[0]!.replace(/\/+$/, '')}/${uploaded.mediaId}`)
      .send({ mediaId: uploaded.mediaId, createdAt: uploaded.createdAt.toISOString(), expiresAt: uploaded.expiresAt.toISOString() })
  })

  app.get('/media/:mediaId', {
    schema: {
      params: Type.Object({ mediaId: MediaIdSchema }),
      response: { 200: Type.Unsafe<Buffer>({ description: 'the file, as WeChat keeps it' }), ...errorResponses(400, 401, 403, 404, 500, 501, 502, 503, 504) }
    }
  }, async (request, reply) => {
    requireAdmin(request)
    const { mediaId } = request.params
    const file = await app.outboundService.getMedia(mediaId)
    // Relayed as a download: an unexpected type is never rendered by a console's browser.
    const type = declaredType(file.contentType)
    const contentType = type?.startsWith('image/') === true ? type : 'application/octet-stream'
    const filename = file.filename ?? `${mediaId}.${UPLOAD_IMAGE_TYPES.get(contentType) ?? 'bin'}`
    return await reply
      .type(contentType)
      .header('content-disposition', attachmentDisposition(filename))
      .header('content-length', file.body.length)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'private, max-age=3600')
      .send(file.body)
  })
}

export default media
