// Each service's real entry point (src/server.ts, as its own process) refuses to start on the weak
// secrets a copied .env.example used to carry: exit code 1, every variable named on stderr, no value
// echoed, nothing listening. The rules themselves: packages/common/test/secrets.test.ts.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'

const root = new URL('..', import.meta.url).pathname
const hex = (bytes: number): string => randomBytes(bytes).toString('hex')

interface Run { code: number | null, stderr: string, stdout: string }

/** Runs an entry point until it exits, or until `readyLine` appears on stdout (then stops it). */
async function boot (entry: string, env: Record<string, string>, readyLine?: RegExp): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8')
    if (readyLine?.test(stdout) === true) child.kill('SIGTERM')
  })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8') })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code: number | null = await new Promise((resolve) => child.on('exit', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stderr, stdout }
}

function refused (t: Test, run: Run, named: Record<string, string>): void {
  t.equal(run.code, 1, 'exit code 1', { stderr: run.stderr })
  t.notMatch(run.stdout, /ready/, 'never listened')
  for (const [variable, value] of Object.entries(named)) {
    t.match(run.stderr, variable, `names ${variable.split(' ')[0]!}`)
    t.notOk(run.stderr.includes(value), 'without its value')
  }
}

const placeholders = {
  internal: 'change-me-internal-token-32-characters-or-more',
  admin: 'change-me-admin-key-32-characters-or-more',
  redis: 'change-me-redis-password',
  mongo: 'change-me-mongo-password',
  pushToken: 'changeMePushToken',
  aesKey: 'change0me0to0the0console0EncodingAESKey0000'
}

t.test('gateway: placeholder INTERNAL_TOKEN, admin key, Redis password and a one-character METRICS_TOKEN', async (t) => {
  const run = await boot('gateway/src/server.ts', {
    INTERNAL_TOKEN: placeholders.internal,
    ADMIN_API_KEYS: `ops:${placeholders.admin}`,
    METRICS_TOKEN: 'm'.repeat(24),
    REDIS_URL: `redis://:${placeholders.redis}@127.0.0.1:6379`
  })
  refused(t, run, {
    'INTERNAL_TOKEN is a placeholder': placeholders.internal,
    'ADMIN_API_KEYS entry 1 (ops): the key is a placeholder': placeholders.admin,
    'METRICS_TOKEN has too little entropy': 'm'.repeat(24),
    "REDIS_URL's password is a placeholder": placeholders.redis
  })
})

t.test('session: the simulator\'s AppSecret against real WeChat, a placeholder MongoDB password', async (t) => {
  const env = { INTERNAL_TOKEN: hex(32), APP_ID: DEFAULT_SIM_APP.appId, APP_SECRET: DEFAULT_SIM_APP.appSecret }
  const run = await boot('services/session/src/server.ts', { ...env, MONGO_URL: `mongodb://weapp:${placeholders.mongo}@127.0.0.1:27017` })
  refused(t, run, {
    'APP_SECRET is a value published': DEFAULT_SIM_APP.appSecret,
    "MONGO_URL's password is a placeholder": placeholders.mongo
  })

  // A MONGO_URL the driver cannot parse: a first line saying why, exit code 1, no password.
  const mongoPassword = hex(16)
  // (MONGO_URL needs SESSION_KEY_ENCRYPTION_KEY: given, so the URL itself is what fails.)
  const badUrl = await boot('services/session/src/server.ts', { ...env, SESSION_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), WECHAT_API_BASE: 'http://127.0.0.1:9', MONGO_URL: `mongodb://weapp:${mongoPassword}@127.0.0.1:99999/weapp` })
  t.equal(badUrl.code, 1, 'exit code 1', { stderr: badUrl.stderr })
  t.match(badUrl.stderr, /^session: could not start: .*99999/m)
  t.notOk(badUrl.stderr.includes(mongoPassword), 'no password')
  t.notMatch(badUrl.stdout, /session ready/)

  // The dev stack's case: the same secret against a simulator on this machine starts.
  const dev = await boot('services/session/src/server.ts', { ...env, WECHAT_API_BASE: 'http://127.0.0.1:9' }, /session ready/)
  t.match(dev.stdout, /session ready/, 'starts against a loopback simulator', { stderr: dev.stderr })
})

t.test('cs-messaging: the old example push Token, EncodingAESKey and AppSecret', async (t) => {
  const run = await boot('services/cs-messaging/src/server.ts', {
    INTERNAL_TOKEN: hex(32),
    APP_ID: DEFAULT_SIM_APP.appId,
    WECHAT_TOKEN: placeholders.pushToken,
    WECHAT_ENCODING_AES_KEY: placeholders.aesKey,
    APP_SECRET: DEFAULT_SIM_APP.appSecret
  })
  refused(t, run, {
    'WECHAT_TOKEN is a placeholder': placeholders.pushToken,
    'WECHAT_ENCODING_AES_KEY is a placeholder': placeholders.aesKey,
    'APP_SECRET is a value published': DEFAULT_SIM_APP.appSecret
  })
})

t.test('realtime-ws: a repeated-character INTERNAL_TOKEN', async (t) => {
  const token = 'i'.repeat(40)
  const run = await boot('services/realtime-ws/src/server.ts', { INTERNAL_TOKEN: token })
  refused(t, run, { 'INTERNAL_TOKEN has too little entropy': token })
})
