// Shapes of the control API (/sim/*), shared by the routes, SimState and SimControl.

export interface LoginCodeRequest {
  /** Any label for a simulated WeChat user; the same label always gives the same openid per app. */
  user: string
  /** Defaults to the simulator's first app. */
  appId?: string
  /** Defaults to the user label. */
  nickName?: string
  avatarUrl?: string
  /** Lifetime of this code; defaults to the simulator's codeTtlMs. */
  ttlMs?: number
}

/** What wx.getUserInfo gives a client: encrypted with the user's session_key, rawData signed with it. */
export interface UserInfoBundle {
  encryptedData: string
  iv: string
  rawData: string
  signature: string
}

export interface LoginCodeResult {
  code: string
  openid: string
  unionid: string
  userInfo: UserInfoBundle
}

export interface PhoneCodeRequest {
  user: string
  appId?: string
  /** The number without country code; defaults to a 13x… number stable per user. */
  phoneNumber?: string
  /** Digits only, default '86'. */
  countryCode?: string
  ttlMs?: number
}

export interface PhoneCodeResult {
  code: string
  /** The phoneNumber getuserphonenumber will answer (with "+<countryCode>" in front outside China). */
  phoneNumber: string
}

export interface SimStats {
  /** Calls per simulated WeChat API path since the start or the last reset, faulted calls included. */
  calls: Record<string, number>
}
