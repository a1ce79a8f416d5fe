// JSON schemas shared by the simulated WeChat API routes. Their inputs are never rejected with a 400
// (WeChat answers errcodes instead), so routes use attachValidation and read fields through `field()`.

export const wxErrorSchema = {
  type: 'object',
  required: ['errcode', 'errmsg'],
  properties: { errcode: { type: 'integer' }, errmsg: { type: 'string' } }
} as const

/** 200 is either the success shape (listed first: it must win when it matches) or an errcode answer. */
export function wxResponse (success: object): { 200: object } {
  return { 200: { anyOf: [success, wxErrorSchema] } }
}

/** A querystring or body where every named field is an optional string. */
export function stringFields (...names: string[]): object {
  return { type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])) }
}

/** A non-empty string field of a parsed query or body, else undefined (absent, empty, repeated, not text). */
export function field (source: unknown, name: string): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined
  const value = (source as Record<string, unknown>)[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

export const tokenSuccessSchema = {
  type: 'object',
  required: ['access_token', 'expires_in'],
  properties: { access_token: { type: 'string' }, expires_in: { type: 'integer' } }
} as const
