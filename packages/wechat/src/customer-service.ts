import { RequestInvalidError } from './errors.js'
import { withOutcome } from './outcome.js'
import type { WechatTransport } from './transport.js'

// Customer-service messages and the typing indicator (docs/wechat/api.md#sending-a-message).

/** A customer-service message (docs/wechat/api.md#sending-a-message): defined here only; @weapp/common re-exports it as OutboundMessage. */
export type CustomMessage =
  | { msgtype: 'text', text: { content: string } }
  | { msgtype: 'image', image: { media_id: string } }
  | { msgtype: 'link', link: { title: string, description: string, url: string, thumb_url: string } }
  | { msgtype: 'miniprogrampage', miniprogrampage: { title: string, pagepath: string, thumb_media_id: string } }

export interface SendCustomMessageInput {
  accessToken: string
  /** The user's openid. */
  touser: string
  message: CustomMessage
  /** Sends through /cgi-bin/message/custom/business/send for this sub-merchant (客服子商户). */
  businessId?: string | number
}

export type TypingCommand = 'Typing' | 'CancelTyping'

export interface SetTypingInput {
  accessToken: string
  touser: string
  command: TypingCommand
  businessId?: string | number
}

const MSGTYPE_FIELDS: Record<CustomMessage['msgtype'], readonly string[]> = {
  text: ['content'],
  image: ['media_id'],
  link: ['title', 'description', 'url', 'thumb_url'],
  miniprogrampage: ['title', 'pagepath', 'thumb_media_id']
}

/**
 * POST /cgi-bin/message/custom/send (or business/send with a businessId). Not idempotent: a failure with
 * outcome 'unknown' (timeout or reset after writing) is not repeated (the user might get the message
 * twice); -1 and 'not-sent' failures are. Errors: WECHAT_SEND_WINDOW_CLOSED (45015),
 * WECHAT_SEND_QUOTA_EXCEEDED (45047), WECHAT_OPENID_INVALID (40003), WECHAT_MEDIA_INVALID (40007),
 * WECHAT_API_UNAUTHORIZED (48001); an invalid message is refused unsent (WECHAT_REQUEST_INVALID).
 */
export async function sendCustomMessage (transport: WechatTransport, { accessToken, touser, message, businessId }: SendCustomMessageInput): Promise<void> {
  requireOpenid(touser)
  const body: Record<string, unknown> = { touser, ...checkMessage(message) }
  if (businessId !== undefined) body.businessid = checkBusinessId(businessId)
  const path = businessId === undefined ? '/cgi-bin/message/custom/send' : '/cgi-bin/message/custom/business/send'
  await transport.callJson('POST', path, { accessToken, body, idempotent: false })
}

/**
 * POST /cgi-bin/message/custom/business/typing (the mini-program path). Errors: WECHAT_TYPING_NO_INTERACTION
 * (45080: no message exchanged within 30 s, or no window), WECHAT_TYPING_ALREADY_ACTIVE (45081),
 * WECHAT_TYPING_COMMAND_INVALID (45072).
 */
export async function setTyping (transport: WechatTransport, { accessToken, touser, command, businessId }: SetTypingInput): Promise<void> {
  requireOpenid(touser)
  const body: Record<string, unknown> = { touser, command }
  if (businessId !== undefined) body.businessid = checkBusinessId(businessId)
  await transport.callJson('POST', '/cgi-bin/message/custom/business/typing', { accessToken, body, idempotent: false })
}

/** A request refused before anything was sent. */
export function invalidRequest (why: string): Error {
  return withOutcome(new RequestInvalidError(why), 'not-sent')
}

function requireOpenid (touser: unknown): void {
  if (typeof touser !== 'string' || touser === '') throw invalidRequest('touser must be a non-empty openid')
}

function checkBusinessId (id: unknown): string | number {
  if ((typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isSafeInteger(id))) return id
  throw invalidRequest('businessId must be a non-empty string or an integer')
}

/** The body fields of a message: msgtype and its content object with every required text field. */
function checkMessage (message: CustomMessage): Record<string, unknown> {
  const msgtype = (message as { msgtype?: unknown } | null)?.msgtype
  if (typeof msgtype !== 'string' || !Object.hasOwn(MSGTYPE_FIELDS, msgtype)) {
    throw invalidRequest(`msgtype must be one of ${Object.keys(MSGTYPE_FIELDS).join(', ')}`)
  }
  const content = (message as unknown as Record<string, unknown>)[msgtype]
  if (typeof content !== 'object' || content === null) throw invalidRequest(`${msgtype} message without its ${msgtype} object`)
  const fields: Record<string, string> = {}
  for (const name of MSGTYPE_FIELDS[msgtype as CustomMessage['msgtype']]) {
    const value = (content as Record<string, unknown>)[name]
    if (typeof value !== 'string' || value === '') throw invalidRequest(`${msgtype}.${name} must be a non-empty string`)
    fields[name] = value
  }
  return { msgtype, [msgtype]: fields }
}
