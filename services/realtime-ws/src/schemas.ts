import Type from 'typebox'

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})

/** Responses a route may give through the central error handler. */
export function errorResponses (...statuses: number[]): Record<number, typeof ErrorSchema> {
  const out: Record<number, typeof ErrorSchema> = {}
  for (const status of statuses) out[status] = ErrorSchema
  return out
}

export const TicketQuery = Type.Object({ ticket: Type.Optional(Type.String({ maxLength: 256 })) })
