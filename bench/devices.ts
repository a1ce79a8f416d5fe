// The in-process performance devices, each measured with and without its off switch: CPU time (user +
// system, process.cpuUsage) per operation in fresh processes, the two variants alternated round by round,
// medians and the per-round differences. CPU time of a single-threaded loop is what another process on the
// machine disturbs least; the end-to-end benches (`pnpm bench:proxy`, `pnpm bench:push`) show the whole path,
// whose run-to-run spread on a shared 2-core machine is larger than these gains.
//
//   npx tsx bench/devices.ts [--rounds 6] [--devices msg-crypt,loggers,metrics]
//
// Devices (switch: what the off variant does):
//   msg-crypt  WECHAT_AES_ECB_CHAINING=0: a new aes-256-cbc decipher per message instead of one ECB decipher
//              with CBC's chaining in JS; per `MsgCrypt.decrypt` of a text push (~400 bytes, 27 AES blocks).
//   loggers    LAZY_REQUEST_LOGGERS=0: Fastify's pino child per request instead of the lazy one; per request
//              (`inject` of a GET answering a small JSON) into a Fastify app with the services' serverOptions.
//   metrics    GATEWAY_METRICS_ARRAYS=0: prom-client's labelled Counter and Histogram instead of the typed
//              arrays; per request (GatewayMetrics.observeRequest + authCacheHit, as the gateway calls them).
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

interface Device {
  env: string
  on: string
  off: string
  /** Runs the operation `count` times after a warm-up; returns CPU µs per operation. */
  measure: (count: number) => Promise<number>
  count: number
}

async function cpuPerOp (count: number, op: () => unknown | Promise<unknown>): Promise<number> {
  for (let i = 0; i < count / 5; i++) await op()
  const before = process.cpuUsage()
  for (let i = 0; i < count; i++) await op()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / count
}

const DEVICES: Record<string, Device> = {
  'msg-crypt': {
    env: 'WECHAT_AES_ECB_CHAINING',
    on: 'hand-chained AES-CBC',
    off: 'new decipher per message',
    count: 50_000,
    measure: async (count) => {
      const { MsgCrypt } = await import('../packages/wechat/src/msg-crypt.js')
      const crypt = new MsgCrypt({ token: 'bench', encodingAESKey: randomBytes(32).toString('base64').slice(0, 43), appId: 'wx0123456789abcdef' })
      const xml = `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oBench${'0'.repeat(22)}]]></FromUserName>` +
        `<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${'hello '.repeat(20)}]]></Content>` +
        '<MsgId>6000000000000000001</MsgId></xml>'
      const encrypt = crypt.encrypt(xml)
      return await cpuPerOp(count, () => crypt.decrypt(encrypt))
    }
  },
  loggers: {
    env: 'LAZY_REQUEST_LOGGERS',
    on: 'lazy request loggers',
    off: 'a pino child per request',
    count: 20_000,
    measure: async (count) => {
      const { default: Fastify } = await import('fastify')
      const { serverOptions } = await import('@weapp/common')
      // Request logging is off at info (serverOptions), so nothing is written: only the request logger's creation differs.
      const bench = Fastify(serverOptions({ service: 'bench', logLevel: 'info' }))
      bench.get('/x', async () => ({ ok: true }))
      await bench.ready()
      return await cpuPerOp(count, async () => await bench.inject({ method: 'GET', url: '/x' }))
    }
  },
  metrics: {
    env: 'GATEWAY_METRICS_ARRAYS',
    on: 'typed arrays',
    off: 'prom-client metrics',
    count: 500_000,
    measure: async (count) => {
      const { GatewayMetrics } = await import('../gateway/src/metrics.js')
      const metrics = new GatewayMetrics(['session', 'cs-messaging', 'realtime'])
      const group = metrics.groupIndex('session')
      let i = 0
      return await cpuPerOp(count, () => {
        metrics.authCacheHit()
        metrics.observeRequest(group, (i++ & 15) === 0 ? 401 : 200, 0.0012)
      })
    }
  }
}

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : process.argv[i + 1] ?? fallback
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const child = arg('child', '')
if (child !== '') {
  const device = DEVICES[child]!
  console.log(JSON.stringify({ us: await device.measure(device.count) }))
  process.exit(0) // what a device left open (a Fastify app, prom-client's default metrics) does not matter here
} else {
  const rounds = Number(arg('rounds', '6'))
  const names = arg('devices', Object.keys(DEVICES).join(',')).split(',')
  const run = async (name: string, on: boolean): Promise<number> => {
    const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', name],
      { env: { ...process.env, [DEVICES[name]!.env]: on ? '1' : '0', LOG_LEVEL: 'info' } })
    return (JSON.parse(stdout) as { us: number }).us
  }
  console.log(`bench/devices.ts ${new Date().toISOString()}: ${rounds} rounds per device, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  for (const name of names) {
    const device = DEVICES[name]
    if (device === undefined) throw new Error(`unknown device ${name}`)
    const on: number[] = []
    const off: number[] = []
    for (let r = 0; r < rounds; r++) {
      on.push(await run(name, true))
      off.push(await run(name, false))
    }
    const gains = on.map((v, i) => off[i]! - v)
    console.log(`${name}: µs per operation, median of ${rounds}: ${device.on} ${median(on).toFixed(2)}, ${device.off} (${device.env}=0) ${median(off).toFixed(2)}; ` +
      `gain ${median(gains).toFixed(2)} µs (per round: ${gains.map((g) => g.toFixed(2)).join(', ')}); load average ${loadavg()[0]!.toFixed(2)}`)
  }
}
