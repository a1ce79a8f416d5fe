/** The image types customer service takes from us (docs/wechat/api.md#media-upload: type=image), with their extensions. */
export const UPLOAD_IMAGE_TYPES: ReadonlyMap<string, string> = new Map([['image/jpeg', 'jpg'], ['image/png', 'png'], ['image/gif', 'gif']])

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** The image type the bytes are (by their signature), or undefined for anything but JPEG, PNG and GIF. */
export function sniffImageType (data: Buffer): string | undefined {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg'
  if (data.length >= 8 && data.subarray(0, 8).equals(PNG_SIGNATURE)) return 'image/png'
  if (data.length >= 6) {
    const head = data.subarray(0, 6).toString('latin1')
    if (head === 'GIF87a' || head === 'GIF89a') return 'image/gif'
  }
  return undefined
}

/** A declared Content-Type, lower-cased without parameters; image/jpg is read as image/jpeg. Undefined when malformed. */
export function declaredType (contentType: string | undefined): string | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (!/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(type)) return undefined
  return type === 'image/jpg' ? 'image/jpeg' : type
}

/** A filename safe to hand on (letters, digits, . _ -; at most 64 characters) with the extension of its type. */
export function uploadFilename (given: string | undefined, type: string): string {
  const ext = UPLOAD_IMAGE_TYPES.get(type) ?? 'bin'
  const base = (given ?? '').replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_').replace(/^[._]+/, '').slice(0, 64 - ext.length - 1)
  return `${base === '' ? 'image' : base}.${ext}`
}

/** `attachment` with an ASCII filename and, when it differs, the UTF-8 one (RFC 6266). */
export function attachmentDisposition (filename: string): string {
  const ascii = filename.replace(/[^\w.-]+/g, '_').slice(0, 128) || 'file'
  const value = `attachment; filename="${ascii}"`
  return ascii === filename ? value : `${value}; filename*=UTF-8''${encodeURIComponent(filename)}`
}
