import { encryptOpenData, rawDataSignature } from '@weapp/wechat'
import type { WxUserInfo } from '@weapp/common'
import type { SimUser } from './users.js'
import type { UserInfoBundle } from './types.js'

export interface Profile {
  nickName: string
  avatarUrl: string
}

export function defaultAvatarUrl (openid: string): string {
  return `https://thirdwx.qlogo.cn/mmopen/vi_32/${openid.slice(1, 17)}/132`
}

/**
 * wx.getUserInfo's answer for a user: the full profile (with openId, unionId and the watermark) encrypted
 * with the session_key, and rawData (non-sensitive fields only) signed with sha1(rawData + session_key).
 */
export function userInfoBundle (u: SimUser, profile: Profile, now: number): UserInfoBundle {
  const raw = {
    nickName: profile.nickName,
    gender: 0,
    language: 'zh_CN',
    city: 'Shenzhen',
    province: 'Guangdong',
    country: 'China',
    avatarUrl: profile.avatarUrl
  }
  const rawData = JSON.stringify(raw)
  const payload: WxUserInfo = {
    openId: u.openid,
    ...raw,
    unionId: u.unionid,
    watermark: { timestamp: Math.floor(now / 1000), appid: u.appId }
  }
  const { encryptedData, iv } = encryptOpenData(u.session_key, payload)
  return { encryptedData, iv, rawData, signature: rawDataSignature(rawData, u.session_key) }
}
