import { checkSessionKey, code2Session, type CheckSessionKeyInput, type Code2SessionResult } from './login.js'
import { sendCustomMessage, setTyping, type SendCustomMessageInput, type SetTypingInput } from './customer-service.js'
import { getTempMedia, uploadTempMedia, type GetTempMediaInput, type TempMedia, type UploadTempMediaInput, type UploadTempMediaResult } from './media.js'
import { getUserPhoneNumber, type PhoneNumberInput, type PhoneNumberResult } from './phone.js'
import { getAccessToken, getStableAccessToken, type AccessTokenResult } from './token-endpoints.js'
import { WechatTransport, type CallOptions, type Method, type WechatClientOptions } from './transport.js'

export {
  DEFAULT_BASE_URL, DEFAULT_RETRIES, DEFAULT_RETRY_BASE_DELAY_MS, DEFAULT_TIMEOUT_MS, type CallOptions, type WechatClientOptions
} from './transport.js'

/**
 * WeChat server API client: one object over the transport (transport.ts) and the endpoint groups (login,
 * token endpoints, phone, customer service, media). errcode ≠ 0 becomes a typed error carrying
 * `errcode`/`errmsg`; every error a call throws carries `outcome` (outcome.ts): whether WeChat may have
 * acted on it. -1 is retried with exponential back-off.
 */
export class WechatClient {
  readonly appId: string
  readonly #transport: WechatTransport

  constructor (options: WechatClientOptions) {
    this.#transport = new WechatTransport(options)
    this.appId = this.#transport.appId
  }

  /** GET /sns/jscode2session (login.ts). */
  async code2Session (jsCode: string): Promise<Code2SessionResult> {
    return await code2Session(this.#transport, jsCode)
  }

  /** GET /wxa/checksession (login.ts). */
  async checkSessionKey (input: CheckSessionKeyInput): Promise<void> {
    await checkSessionKey(this.#transport, input)
  }

  /** GET /cgi-bin/token (token-endpoints.ts): prefer a provider (createAccessTokens). */
  async getAccessToken (): Promise<AccessTokenResult> {
    return await getAccessToken(this.#transport)
  }

  /** POST /cgi-bin/stable_token (token-endpoints.ts). */
  async getStableAccessToken (forceRefresh = false): Promise<AccessTokenResult> {
    return await getStableAccessToken(this.#transport, forceRefresh)
  }

  /** POST /wxa/business/getuserphonenumber (phone.ts). */
  async getUserPhoneNumber (input: PhoneNumberInput): Promise<PhoneNumberResult> {
    return await getUserPhoneNumber(this.#transport, input)
  }

  /** POST /cgi-bin/message/custom/send, never repeated once it may have been written (customer-service.ts). */
  async sendCustomMessage (input: SendCustomMessageInput): Promise<void> {
    await sendCustomMessage(this.#transport, input)
  }

  /** POST /cgi-bin/message/custom/business/typing (customer-service.ts). */
  async setTyping (input: SetTypingInput): Promise<void> {
    await setTyping(this.#transport, input)
  }

  /** POST /cgi-bin/media/upload (media.ts). */
  async uploadTempMedia (input: UploadTempMediaInput): Promise<UploadTempMediaResult> {
    return await uploadTempMedia(this.#transport, input)
  }

  /** GET /cgi-bin/media/get (media.ts). */
  async getTempMedia (input: GetTempMediaInput): Promise<TempMedia> {
    return await getTempMedia(this.#transport, input)
  }

  /** Any other JSON API (the building block of every method above). Resolves when errcode is absent or 0. */
  async callJson<T extends Record<string, unknown> = Record<string, any>> (method: Method, path: string, options: CallOptions = {}): Promise<T> {
    return await this.#transport.callJson<T>(method, path, options)
  }

  /** Closes the private connection pool (a dispatcher handed in is left to its owner). */
  async close (): Promise<void> {
    await this.#transport.close()
  }
}
