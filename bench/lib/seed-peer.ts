// The tutorial's own server (bench/peers/seed: Express + wafer-node-session + ws), started as the peer
// the benches compare the stack with, and a wafer gen-1 client for it. Its dependencies are its own
// (package-lock.json, outside the pnpm workspace), installed with `npm ci` the first time.
import { SimControl } from '@weapp/wechat-sim'
import { ensurePeerInstalled, startProcess, type Running } from './processes.js'

export const SEED_DIR = new URL('../peers/seed/', import.meta.url).pathname

export interface SeedOptions {
  /** Where jscode2session goes instead of api.weixin.qq.com: the simulator. */
  wechatApiBase: string
  appId: string
  appSecret: string
  /** More Node flags, before the peer's own preload (e.g. the memory probe), and environment. */
  nodeArgs?: string[]
  env?: Record<string, string>
}

/** Starts app.js under bare node (as `pm2 start app.js` does), ready when `/` answers. */
export async function startSeed (name: string, port: number, opts: SeedOptions): Promise<Running> {
  ensurePeerInstalled(SEED_DIR, 'bench/peers/seed')
  return await startProcess(name, `${SEED_DIR}app.js`, port, {
    ...opts.env,
    APP_ID: opts.appId,
    APP_SECRET: opts.appSecret,
    WECHAT_API_BASE: opts.wechatApiBase
  }, '/', [...opts.nodeArgs ?? [], '--require', `${SEED_DIR}wechat-redirect.js`])
}

export interface WaferSession { id: string, skey: string, openId: string }

/**
 * A wafer gen-1 login as wafer-client-sdk does it: wx.login's code and wx.getUserInfo's encrypted data
 * (here from the simulator) in X-WX-Code / X-WX-Encrypted-Data / X-WX-IV on the login path.
 */
export async function waferLogin (seedUrl: string, sim: SimControl, user: string): Promise<WaferSession> {
  const { code, userInfo, openid } = await sim.loginCode({ user })
  const res = await fetch(`${seedUrl}/login`, {
    headers: { 'x-wx-code': code, 'x-wx-encrypted-data': userInfo.encryptedData, 'x-wx-iv': userInfo.iv }
  })
  const body = await res.json() as { session?: { id: string, skey: string }, message?: string }
  if (!res.ok || body.session === undefined) throw new Error(`wafer login of ${user} failed: ${res.status} ${JSON.stringify(body)}`)
  return { ...body.session, openId: openid }
}

/** The tutorial's `/me` with the session's X-WX-Id / X-WX-Skey: the user's decrypted userInfo. */
export async function waferMe (seedUrl: string, session: WaferSession): Promise<{ openId: string, nickName: string }> {
  const res = await fetch(`${seedUrl}/me`, { headers: { 'x-wx-id': session.id, 'x-wx-skey': session.skey } })
  const body = await res.json() as { openId?: string, nickName: string }
  if (!res.ok || body.openId !== session.openId) throw new Error(`wafer /me failed: ${res.status} ${JSON.stringify(body)}`)
  return body as { openId: string, nickName: string }
}
