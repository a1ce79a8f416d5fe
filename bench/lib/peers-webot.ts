// node-webot's `wechat` middleware on Express (bench/peers/webot), the push callback `pnpm bench:peers`
// compares this project's with. Its dependencies are its own (package-lock.json, outside the pnpm
// workspace), installed with `npm ci` the first time.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { startProcess, type Running } from './processes.js'

export const WEBOT_DIR = new URL('../peers/webot/', import.meta.url).pathname

/** Installs the peer's locked dependencies when its node_modules is missing. */
export function ensureWebotInstalled (): void {
  if (existsSync(`${WEBOT_DIR}node_modules`)) return
  console.log('installing bench/peers/webot (npm ci)')
  const result = spawnSync('npm', ['ci', '--prefix', WEBOT_DIR, '--no-audit', '--no-fund'], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`npm ci --prefix bench/peers/webot failed (${result.error?.message ?? `exit ${result.status}`})`)
}

export interface WebotOptions {
  /** The push settings of the stack it is compared with. */
  token: string
  encodingAESKey: string
  appId: string
  /** 'empty' (node-webot's `res.reply('')`, the default) or 'text' (an encrypted text reply). */
  reply?: 'empty' | 'text'
}

/** Starts app.js under bare node, ready when `/` answers; its message URL is `/wechat/callback`. */
export async function startWebot (name: string, port: number, opts: WebotOptions): Promise<Running> {
  ensureWebotInstalled()
  return await startProcess(name, `${WEBOT_DIR}app.js`, port, {
    WECHAT_TOKEN: opts.token,
    WECHAT_ENCODING_AES_KEY: opts.encodingAESKey,
    APP_ID: opts.appId,
    WEBOT_REPLY: opts.reply ?? 'empty'
  }, '/')
}
