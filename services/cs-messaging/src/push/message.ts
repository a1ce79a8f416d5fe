import type { InboundMessage } from '@weapp/common'
import { MessageInvalidError } from '../errors.js'

const MAX_NAME = 128
const MAX_ID = 128

function requiredString (fields: Record<string, unknown>, name: string, max: number): string {
  const value = fields[name]
  if (typeof value !== 'string' || value.length === 0) throw new MessageInvalidError(`${name} is missing`)
  if (value.length > max) throw new MessageInvalidError(`${name} is too long`)
  return value
}

/**
 * The parsed fields of a push as an InboundMessage: the common fields checked (ToUserName, FromUserName,
 * CreateTime as an integer, MsgType), MsgId and Event as strings; every other field kept as it came,
 * so unknown message types and events are recorded whole.
 */
export function toInboundMessage (fields: Record<string, unknown>): InboundMessage {
  requiredString(fields, 'ToUserName', MAX_NAME)
  requiredString(fields, 'FromUserName', MAX_NAME)
  requiredString(fields, 'MsgType', MAX_NAME)
  const rawTime = fields.CreateTime
  let createTime: number
  if (typeof rawTime === 'number') createTime = rawTime
  else if (typeof rawTime === 'string' && /^\d{1,12}$/.test(rawTime)) createTime = Number(rawTime)
  else throw new MessageInvalidError('CreateTime is missing or not an integer')
  if (!Number.isSafeInteger(createTime) || createTime < 0) throw new MessageInvalidError('CreateTime is not a valid unix time')
  const message: Record<string, unknown> = { ...fields, CreateTime: createTime }
  if (fields.MsgId !== undefined) {
    // JSON ids arrive already quoted by parsePushJson; XML ids are text. Either way: an opaque string.
    const id = typeof fields.MsgId === 'number' ? String(fields.MsgId) : fields.MsgId
    if (typeof id !== 'string' || id.length > MAX_ID) throw new MessageInvalidError('MsgId is not a string id')
    if (id === '') delete message.MsgId
    else message.MsgId = id
  }
  if (fields.Event !== undefined && (typeof fields.Event !== 'string' || fields.Event.length > MAX_NAME)) {
    throw new MessageInvalidError('Event is not a string')
  }
  return message as unknown as InboundMessage
}

/**
 * The de-duplication key of a push (docs/wechat/push.md#retries-and-de-duplication): the MsgId when there is one, otherwise
 * FromUserName + CreateTime + Event (MsgType for the rare non-event without an id).
 */
export function dedupKey (message: InboundMessage): string {
  const id = (message as { MsgId?: unknown }).MsgId
  if (typeof id === 'string' && id !== '') return `msg:${id}`
  const event = (message as { Event?: unknown }).Event
  return `evt:${message.FromUserName}:${message.CreateTime}:${typeof event === 'string' ? event : message.MsgType}`
}

/** A bounded label for metrics: the message type, or event:<name> for the events we know. */
const KNOWN_TYPES = new Set(['text', 'image', 'miniprogrampage', 'voice', 'video', 'location', 'link'])
const KNOWN_EVENTS = new Set(['user_enter_tempsession', 'debug_demo', 'subscribe_msg_popup_event', 'subscribe_msg_change_event', 'subscribe_msg_sent_event', 'wxa_media_check'])
export function typeLabel (message: InboundMessage): string {
  if (message.MsgType === 'event') {
    const event = (message as { Event?: unknown }).Event
    return typeof event === 'string' && KNOWN_EVENTS.has(event) ? `event:${event}` : 'event:other'
  }
  return KNOWN_TYPES.has(message.MsgType) ? message.MsgType : 'other'
}
