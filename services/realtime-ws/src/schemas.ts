import Type from 'typebox'

// The shared error body lives in @weapp/common; re-exported so routes import their schemas from one place.
export { ErrorSchema, errorResponses } from '@weapp/common'

export const TicketQuery = Type.Object({ ticket: Type.Optional(Type.String({ maxLength: 256 })) })
