import Type from 'typebox'

/** The one error body every service answers with (see installErrorHandling), as a response schema. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})

/** Response schemas for the error statuses a route may give through the central error handler. */
export function errorResponses (...statuses: number[]): Record<number, typeof ErrorSchema> {
  const out: Record<number, typeof ErrorSchema> = {}
  for (const status of statuses) out[status] = ErrorSchema
  return out
}
