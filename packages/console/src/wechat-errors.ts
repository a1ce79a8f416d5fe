// WeChat's customer-service errcodes in words for the agent (docs/wechat/errors.md): what happened and
// what to do, shown under a failed outbound message and with a refused send.

const EXPLANATIONS: Readonly<Record<number, string>> = {
  45015: 'The user\'s window is closed: WeChat accepts a message only within 48 hours of the user\'s last message (1 minute after entering the chat). Wait for the user to write again.',
  45047: 'No messages left in this window: WeChat allows 5 replies per user message (2 after entering the chat). Wait for the user to write again.',
  40003: 'WeChat does not know this openid as a user of this mini-program.',
  48001: 'This mini-program may not use the customer-service API: check its permissions and verification in the WeChat admin panel.',
  45080: 'Typing can be shown only within 30 seconds of a message from the user.',
  45081: 'The typing indicator is already showing.',
  40007: 'The image or thumbnail has expired or is unknown to WeChat (temporary media lives 3 days): upload it again.',
  45009: 'The daily quota of this WeChat API is used up: sending works again tomorrow.',
  40001: 'WeChat refused the access token (wrong AppSecret or a newer token was fetched elsewhere): tell an administrator.',
  40004: 'WeChat accepts only images here.',
  45011: 'Too many requests to WeChat in a minute: try again shortly.',
  [-1]: 'WeChat\'s servers were busy: try again.'
}

/** Our error codes for WeChat's refusals (docs/wechat/errors.md), for a record that kept the code alone. */
const ERRCODE_OF: Readonly<Record<string, number>> = {
  WECHAT_SEND_WINDOW_CLOSED: 45015,
  WECHAT_SEND_QUOTA_EXCEEDED: 45047,
  WECHAT_OPENID_INVALID: 40003,
  WECHAT_API_UNAUTHORIZED: 48001,
  WECHAT_MEDIA_INVALID: 40007,
  WECHAT_TOKEN_INVALID: 40001
}

/** The words for a WeChat errcode (or our code for it), or a generic sentence naming the code. */
export function explainWechatError (errcode: number | undefined, errorCode?: string): string {
  if (errcode === undefined && errorCode !== undefined) errcode = ERRCODE_OF[errorCode]
  if (errcode !== undefined) {
    const text = EXPLANATIONS[errcode]
    if (text !== undefined) return `${text} (WeChat error ${errcode})`
    return `WeChat refused the message (error ${errcode}).`
  }
  if (errorCode === 'CS_SEND_WINDOW_CLOSED') return 'The user\'s window is closed: nothing can be sent until the user writes again.'
  if (errorCode === 'CS_SEND_QUOTA_EXCEEDED') return 'No messages left in this window: wait for the user to write again.'
  if (errorCode !== undefined) return `The message was not sent (${errorCode}).`
  return 'The message was not sent.'
}

/** The errcodes the table explains (the tests check each has its own words). */
export const EXPLAINED_ERRCODES = Object.keys(EXPLANATIONS).map(Number)
