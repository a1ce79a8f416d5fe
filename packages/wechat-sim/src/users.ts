import { createHmac } from 'node:crypto'

// Fixed seed: ids depend only on (appId, user), so a restarted simulator hands out the same ones and
// sessions stored by a backend survive it.
const SIM_SEED = 'weapp-wechat-sim/v1'

const OPENID_PATTERN = /^o[A-Za-z0-9_-]{27}$/

function digest (label: string, ...parts: string[]): Buffer {
  return createHmac('sha256', SIM_SEED).update([label, ...parts].join('\0'), 'utf8').digest()
}

/** 28 characters starting with "o", like real openids and unionids. */
function wxId (label: string, ...parts: string[]): string {
  return 'o' + digest(label, ...parts).toString('base64url').slice(0, 27)
}

export interface SimUser {
  user: string
  appId: string
  openid: string
  /** Every simulated app counts as bound to one Open Platform account: the unionid depends on the user only. */
  unionid: string
  session_key: string
}

export function openidOf (appId: string, user: string): string {
  return wxId('openid', appId, user)
}

/**
 * Derived from the openid alone so that checksession can find it for any openid, even one this
 * simulator instance has never issued (after a restart).
 */
export function sessionKeyOf (openid: string): string {
  return digest('session_key', openid).subarray(0, 16).toString('base64')
}

export function looksLikeOpenid (value: string): boolean {
  return OPENID_PATTERN.test(value)
}

export function deriveUser (appId: string, user: string): SimUser {
  const openid = openidOf(appId, user)
  return { user, appId, openid, unionid: wxId('unionid', user), session_key: sessionKeyOf(openid) }
}

/** A mainland mobile number (13x…) stable per user, for phone codes that do not name one. */
export function defaultPhoneOf (user: string): string {
  const n = digest('phone', user).readUInt32BE(0) % 1_000_000_000
  return '13' + String(n).padStart(9, '0')
}

/** The mini-program's original id (gh_ + 12 hex), the ToUserName of its pushes; stable per appId. */
export function originalIdOf (appId: string): string {
  return 'gh_' + digest('original_id', appId).toString('hex').slice(0, 12)
}
