import Type from 'typebox'

// Response and body shapes shared by the routes. session_key is in none of them: a response schema
// also decides what gets serialised, so nothing outside these shapes can leak into a body.

// The shared error body lives in @weapp/common; re-exported so routes import their schemas from one place.
export { ErrorSchema, errorResponses } from '@weapp/common'

export const PhoneSchema = Type.Object({
  phoneNumber: Type.String(),
  purePhoneNumber: Type.String(),
  countryCode: Type.String()
})

/** Decrypted wx.getUserInfo payload, returned to wafer clients as WeChat produced it (extra fields kept). */
export const WxUserInfoSchema = Type.Object({
  openId: Type.String(),
  nickName: Type.String(),
  gender: Type.Optional(Type.Integer()),
  language: Type.Optional(Type.String()),
  city: Type.Optional(Type.String()),
  province: Type.Optional(Type.String()),
  country: Type.Optional(Type.String()),
  avatarUrl: Type.Optional(Type.String()),
  unionId: Type.Optional(Type.String()),
  watermark: Type.Optional(Type.Object({ appid: Type.String(), timestamp: Type.Integer() }))
}, { additionalProperties: true })

export const UserSchema = Type.Object({
  openid: Type.String(),
  unionid: Type.Optional(Type.String()),
  nickname: Type.Optional(Type.String()),
  avatarUrl: Type.Optional(Type.String()),
  phone: Type.Optional(PhoneSchema),
  wxUserInfo: Type.Optional(WxUserInfoSchema),
  firstSeenAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' })
})

/** At least one visible character and no C0/C1 control characters (newlines, NUL, escapes...) in a display name. */
export const DISPLAY_NAME_PATTERN = '^(?=[\\s\\S]*\\S)[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029]*$'

/** A wx.login / getPhoneNumber code as WeChat hands it out (opaque; WeChat's are 32 characters). */
export const WxCode = Type.String({ minLength: 1, maxLength: 256 })
