import { CodeInvalidError, ResponseInvalidError, WatermarkMismatchError } from './errors.js'
import { withOutcome } from './outcome.js'
import type { WechatTransport } from './transport.js'

// The user's phone number, from the code of <button open-type="getPhoneNumber">.

export interface PhoneNumberInput {
  accessToken: string
  code: string
  openid?: string
}

export interface PhoneNumberResult {
  phoneNumber: string
  purePhoneNumber: string
  countryCode: string
  watermark: { appid: string, timestamp: number }
}

/** POST /wxa/business/getuserphonenumber. The code is single use; the watermark must name our AppID. */
export async function getUserPhoneNumber (transport: WechatTransport, { accessToken, code, openid }: PhoneNumberInput): Promise<PhoneNumberResult> {
  if (typeof code !== 'string' || code.length === 0) throw withOutcome(new CodeInvalidError('phone code is empty'), 'not-sent')
  const data = await transport.callJson('POST', '/wxa/business/getuserphonenumber', {
    accessToken,
    body: openid === undefined ? { code } : { code, openid },
    idempotent: false
  })
  const info = data.phone_info as Record<string, unknown> | undefined
  const watermark = info?.watermark as Record<string, unknown> | undefined
  if (typeof info !== 'object' || info === null || typeof info.phoneNumber !== 'string' || typeof info.purePhoneNumber !== 'string' ||
    (typeof info.countryCode !== 'string' && typeof info.countryCode !== 'number') || typeof watermark !== 'object' || watermark === null) {
    throw withOutcome(new ResponseInvalidError('getuserphonenumber without a complete phone_info'), 'unknown')
  }
  // WeChat answered (and used up the code), but not for our app: nothing of it is kept.
  if (watermark.appid !== transport.appId) throw withOutcome(new WatermarkMismatchError(), 'unknown')
  return {
    phoneNumber: info.phoneNumber,
    purePhoneNumber: info.purePhoneNumber,
    // The doc types it as a string but its example shows a number.
    countryCode: String(info.countryCode),
    watermark: { appid: watermark.appid, timestamp: Number(watermark.timestamp) }
  }
}
