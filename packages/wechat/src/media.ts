import { FormData } from 'undici'
import { ResponseInvalidError } from './errors.js'
import { invalidRequest } from './customer-service.js'
import { withOutcome } from './outcome.js'
import type { WechatTransport } from './transport.js'

// Temporary media for customer-service messages: upload (media_id, three days) and download.

/** getTempMedia reads at most this much unless told otherwise. */
export const DEFAULT_MEDIA_MAX_BYTES = 20 * 1024 * 1024

export interface UploadTempMediaInput {
  accessToken: string
  filename: string
  /** e.g. image/jpeg, image/png. */
  contentType: string
  data: Buffer | Uint8Array
  /** Mini-program customer service takes 'image' only (anything else: WECHAT_MEDIA_TYPE_INVALID). */
  type?: string
}

export interface UploadTempMediaResult {
  type: string
  mediaId: string
  /** Unix seconds, as WeChat reports it (a number or a numeric string on the wire). */
  createdAt: number
}

export interface GetTempMediaInput {
  accessToken: string
  mediaId: string
  /** Larger files are refused (WECHAT_RESPONSE_INVALID) before they are read whole. Default 20 MiB. */
  maxBytes?: number
}

export interface TempMedia {
  contentType: string
  /** From Content-Disposition, when WeChat names the file. */
  filename?: string
  body: Buffer
}

/**
 * POST /cgi-bin/media/upload?type=image as multipart/form-data (file part `media`). The media_id lives
 * three days. A failure with outcome 'unknown' is not repeated (the file may be large; the caller decides).
 */
export async function uploadTempMedia (transport: WechatTransport, { accessToken, filename, contentType, data, type = 'image' }: UploadTempMediaInput): Promise<UploadTempMediaResult> {
  if (typeof filename !== 'string' || filename === '' || /["\r\n]/.test(filename)) throw invalidRequest('filename must be non-empty, without quotes or line breaks')
  if (typeof contentType !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(contentType)) throw invalidRequest('contentType must be a media type such as image/jpeg')
  if (!(data instanceof Uint8Array) || data.length === 0) throw invalidRequest('data must be a non-empty Buffer')
  const form = new FormData()
  form.append('media', new Blob([data as Uint8Array<ArrayBuffer>], { type: contentType }), filename)
  const answer = await transport.callJson('POST', '/cgi-bin/media/upload', { accessToken, query: { type }, form, idempotent: false })
  const createdAt = Number(answer.created_at)
  if (typeof answer.media_id !== 'string' || answer.media_id === '' || answer.created_at === '' || !Number.isFinite(createdAt)) {
    throw withOutcome(new ResponseInvalidError('media/upload without media_id/created_at'), 'unknown')
  }
  return { type: typeof answer.type === 'string' ? answer.type : type, mediaId: answer.media_id, createdAt }
}

/**
 * GET /cgi-bin/media/get: the file as a Buffer with its Content-Type and filename. WeChat answers
 * failures as JSON (told apart by Content-Type, or a leading "{" when none is given), which become
 * typed errors: WECHAT_MEDIA_INVALID for 40007. Repeated like any GET.
 */
export async function getTempMedia (transport: WechatTransport, { accessToken, mediaId, maxBytes = DEFAULT_MEDIA_MAX_BYTES }: GetTempMediaInput): Promise<TempMedia> {
  transport.assertOpen()
  if (typeof mediaId !== 'string' || mediaId === '') throw invalidRequest('mediaId is empty')
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw invalidRequest('maxBytes must be a positive integer')
  const answer = await transport.getFile('/cgi-bin/media/get', { accessToken, query: { media_id: mediaId } }, maxBytes)
  const media: TempMedia = { contentType: answer.contentType === '' ? 'application/octet-stream' : answer.contentType, body: answer.body }
  const filename = dispositionFilename(answer.headers['content-disposition'])
  if (filename !== undefined) media.filename = filename
  return media
}

/** The filename of a Content-Disposition header: filename*=UTF-8''… first, then filename="…" or a bare token. */
export function dispositionFilename (header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header
  if (typeof value !== 'string') return undefined
  const extended = /filename\*\s*=\s*[^']*'[^']*'([^;\s]+)/i.exec(value)
  if (extended !== null) {
    try {
      return decodeURIComponent(extended[1]!)
    } catch { /* fall back to the plain parameter */ }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(value)
  if (quoted !== null) return quoted[1]!.replace(/\\(.)/g, '$1')
  const bare = /filename\s*=\s*([^;\s]+)/i.exec(value)
  return bare === null ? undefined : bare[1]
}
