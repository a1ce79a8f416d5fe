import type { FastifyRequest } from 'fastify'

export interface MultipartFile {
  /** The part's filename, as the client sent it. */
  filename: string
  /** The part's Content-Type, '' when it had none. */
  contentType: string
  data: Buffer
}

/** A parsed multipart/form-data body: text fields and file parts, first occurrence of each name. */
export class MultipartBody {
  readonly fields = new Map<string, string>()
  readonly files = new Map<string, MultipartFile>()
}

/**
 * Parses multipart/form-data with the platform's own parser (Response#formData, undici inside Node),
 * so the simulator needs no multipart dependency. A body that is not valid multipart gives null: WeChat
 * answers such uploads with an errcode, never a 400.
 */
export async function parseMultipart (request: FastifyRequest, body: Buffer): Promise<MultipartBody | null> {
  const contentType = request.headers['content-type']
  if (typeof contentType !== 'string') return null
  let form: FormData
  try {
    // Fastify's body buffers sit on plain ArrayBuffers, never shared memory.
    form = await new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': contentType } }).formData()
  } catch {
    return null
  }
  const parsed = new MultipartBody()
  for (const [name, value] of form) {
    if (typeof value === 'string') {
      if (!parsed.fields.has(name)) parsed.fields.set(name, value)
    } else if (!parsed.files.has(name)) {
      parsed.files.set(name, { filename: value.name, contentType: value.type, data: Buffer.from(await value.arrayBuffer()) })
    }
  }
  return parsed
}
