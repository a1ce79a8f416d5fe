import type { InboundMessage } from '@weapp/common'
import type { PushDecoder, PushFormat, PushMode } from './decoder.js'

export interface PassiveReply {
  contentType: string
  body: string
}

/** `success` acknowledges without further action and never needs encryption (docs/wechat/push.md#replies). */
export const SUCCESS_REPLY: PassiveReply = Object.freeze({ contentType: 'text/plain; charset=utf-8', body: 'success' })

const cdata = (value: string): string => `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`

function render (fields: Record<string, string | number>, format: PushFormat): PassiveReply {
  if (format === 'json') return { contentType: 'application/json; charset=utf-8', body: JSON.stringify(fields) }
  const inner = Object.entries(fields).map(([k, v]) => `<${k}>${typeof v === 'number' ? String(v) : cdata(v)}</${k}>`).join('')
  return { contentType: 'application/xml; charset=utf-8', body: `<xml>${inner}</xml>` }
}

export interface TransferReplyInput {
  message: InboundMessage
  format: PushFormat
  mode: PushMode
  nonce: string
  /** Unix seconds. */
  now: number
  decoder: PushDecoder
}

/**
 * `transfer_customer_service`: hands the conversation to the web customer-service tool. To/From are
 * swapped relative to the push; same format as the push; encrypted (Encrypt/MsgSignature/TimeStamp/Nonce)
 * when the push was.
 */
export function transferReply ({ message, format, mode, nonce, now, decoder }: TransferReplyInput): PassiveReply {
  const plain = render({
    ToUserName: message.FromUserName,
    FromUserName: message.ToUserName,
    CreateTime: now,
    MsgType: 'transfer_customer_service'
  }, format)
  if (mode === 'plaintext') return plain
  const sealed = decoder.encryptReply(plain.body, nonce, now)
  return render({ Encrypt: sealed.Encrypt, MsgSignature: sealed.MsgSignature, TimeStamp: sealed.TimeStamp, Nonce: sealed.Nonce }, format)
}
