// The performance devices can be switched off (bench/proxy.ts and bench/devices.ts measure each one against
// its switch), and switched off the code does the same: the compiled gateway, as production runs it, with
// every gateway device on and with every one off, in front of the session stand-in; MsgCrypt both ways.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { builtServer } from '../lib/built.js'
import { startProcess, stopAll } from '../lib/processes.js'
import { startSessionStandIn } from '../lib/stand-ins.js'
import { freePort } from '../../scripts/redis-server.js'

const INTERNAL_TOKEN = randomBytes(32).toString('hex')
const BEARER = randomBytes(32).toString('base64url')
const DEVICES_OFF = { LAZY_REQUEST_LOGGERS: '0', UPSTREAM_COALESCE_WRITES: '0', GATEWAY_METRICS_ARRAYS: '0' }

/** The request series of a /metrics text, each as `name{sorted labels} value` (label order is not meaningful). */
function requestSeries (text: string): string[] {
  return text.split('\n')
    .filter((line) => /^gateway_(http_request|auth_cache_)/.test(line))
    .map((line) => {
      const m = /^(\w+)(?:\{(.*)\})? (.+)$/.exec(line)
      if (m === null) return line
      const labels = (m[2] ?? '').split(/,(?=\w+=")/).filter(Boolean).sort().join(',')
      // Durations vary between runs; which series exist and the counts do not.
      const value = m[1]!.endsWith('_sum') ? 'sum' : m[1]!.endsWith('_bucket') ? 'bucket' : m[3]
      return `${m[1]!}{${labels}} ${value!}`
    })
    .sort()
}

t.test('with every device switched off the gateway forwards and counts the same', async (t) => {
  const upstream = await startSessionStandIn({ internalToken: INTERNAL_TOKEN, credentials: [{ credential: { kind: 'bearer', token: BEARER } }] })
  t.teardown(upstream.close)
  const entry = builtServer('gateway')
  // NODE_OPTIONS: tap's loaders and coverage hooks stay out of the gateway (slow to start under them).
  const env = { INTERNAL_TOKEN, SESSION_URL: upstream.url, METRICS_PUBLIC: 'true', NODE_OPTIONS: '' }
  const on = await startProcess('gateway', entry, await freePort(), env)
  t.teardown(async () => { await stopAll([on]) })
  const off = await startProcess('gateway-devices-off', entry, await freePort(), { ...env, ...DEVICES_OFF })
  t.teardown(async () => { await stopAll([off]) })

  const seen: Record<string, string[]> = {}
  for (const gateway of [on, off]) {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gateway.url}/api/me`, { headers: { authorization: `Bearer ${BEARER}` } })
      t.equal(res.status, 200, `${gateway.name}: GET /api/me`)
      t.match(await res.json(), { nickname: 'Bench User' })
    }
    seen[gateway.name] = requestSeries(await (await fetch(`${gateway.url}/metrics`)).text())
  }
  t.ok(seen.gateway!.some((s) => s === 'gateway_http_requests_total{group="session",status_class="2xx"} 3'), 'the three requests counted')
  t.ok(seen.gateway!.some((s) => s === 'gateway_auth_cache_hits_total{} 2'), 'two cache hits after one lookup')
  t.same(seen['gateway-devices-off'], seen.gateway, 'the same series and counts with prom-client\'s own metrics')
})

t.test('switched off, MsgCrypt still decrypts what it encrypted (bench/devices.ts measures both ways)', async (t) => {
  const script = fileURLToPath(new URL('../devices.ts', import.meta.url))
  for (const chaining of ['1', '0']) {
    // The child decrypts a push's ciphertext thousands of times; a wrong plaintext throws (padding, AppID).
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--child', 'msg-crypt'],
      { env: { ...process.env, NODE_OPTIONS: '', WECHAT_AES_ECB_CHAINING: chaining } })
    t.ok((JSON.parse(stdout) as { us: number }).us > 0, `WECHAT_AES_ECB_CHAINING=${chaining}`)
  }
})
