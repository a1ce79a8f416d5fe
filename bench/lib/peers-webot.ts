// node-webot's `wechat` middleware on Express (bench/peers/webot), the push callback `pnpm bench:peers`
// compares this project's with. Its dependencies are its own (package-lock.json, outside the pnpm
// workspace), installed with `npm ci` the first time.
import { ensurePeerInstalled, startProcess, type Running } from './processes.js'

export const WEBOT_DIR = new URL('../peers/webot/', import.meta.url).pathname

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
  ensurePeerInstalled(WEBOT_DIR, 'bench/peers/webot')
  return await startProcess(name, `${WEBOT_DIR}app.js`, port, {
    WECHAT_TOKEN: opts.token,
    WECHAT_ENCODING_AES_KEY: opts.encodingAESKey,
    APP_ID: opts.appId,
    WEBOT_REPLY: opts.reply ?? 'empty'
  }, '/')
}
