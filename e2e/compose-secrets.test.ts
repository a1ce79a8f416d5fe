// docker-compose.yml without Docker: secrets reach the services only as Docker secrets (files read through
// <NAME>_FILE, never environment values), MongoDB is reached as each service's own user, Redis never
// evicts, and the files deploy/make-secrets.sh writes pass every service's boot checks when mounted as the
// compose file mounts them. The running stack is scripts/compose-test.sh (`pnpm test:compose`).
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadGatewayConfig } from '../gateway/src/config.js'
import { loadCsConfig } from '../services/cs-messaging/src/config.js'
import { loadRealtimeConfig } from '../services/realtime-ws/src/config.js'
import { loadSessionConfig } from '../services/session/src/config.js'

const root = new URL('..', import.meta.url).pathname
const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8')
const SECRET_VARIABLES = ['INTERNAL_TOKEN', 'APP_SECRET', 'WECHAT_TOKEN', 'WECHAT_ENCODING_AES_KEY', 'ADMIN_API_KEYS', 'METRICS_TOKEN', 'REDIS_URL', 'MONGO_URL', 'REDIS_PASSWORD', 'MONGO_ROOT_PASSWORD', 'MONGO_INITDB_ROOT_PASSWORD', 'SIM_APP_SECRET', 'SIM_PUSH_TOKEN', 'SIM_PUSH_AES_KEY', 'REDISCLI_AUTH']

interface Service { environment: Record<string, string>, secrets: string[], command: string }

/** The compose file's services, read by indentation (it is ours: two spaces per level, anchors merged). */
function services (): Map<string, Service> {
  const anchors = new Map<string, Record<string, string>>()
  const found = new Map<string, Service>()
  let section = ''
  let current: Service | undefined
  let list: 'environment' | 'secrets' | '' = ''
  let anchor: Record<string, string> | undefined
  for (const line of compose.split('\n')) {
    if (/^\S/.test(line)) {
      section = line.replace(/:.*$/, '')
      current = undefined
      anchor = line.startsWith('x-common-env') ? {} : undefined
      if (anchor !== undefined) anchors.set('common-env', anchor)
      continue
    }
    const kv = /^ {2}([A-Z_]+): (.*)$/.exec(line)
    if (anchor !== undefined && kv !== null) { anchor[kv[1]!] = kv[2]!; continue }
    if (section !== 'services') continue
    const name = /^ {2}([a-z-]+):$/.exec(line)
    if (name !== null) { current = { environment: {}, secrets: [], command: '' }; found.set(name[1]!, current); list = ''; continue }
    if (current === undefined) continue
    if (/^ {4}environment:$/.test(line)) { list = 'environment'; continue }
    if (/^ {4}secrets:$/.test(line)) { list = 'secrets'; continue }
    if (/^ {4}command:/.test(line)) current.command = line
    if (/^ {4}\S/.test(line)) { list = ''; continue }
    if (list === 'environment') {
      if (/^ {6}<<: \*common-env$/.test(line)) Object.assign(current.environment, anchors.get('common-env'))
      const entry = /^ {6}([A-Z_]+): (.*)$/.exec(line)
      if (entry !== null) current.environment[entry[1]!] = entry[2]!.replace(/^"(.*)"$/, '$1')
    }
    if (list === 'secrets') {
      const item = /^ {6}- ([a-z_]+)$/.exec(line)
      if (item !== null) current.secrets.push(item[1]!)
    }
  }
  return found
}

/** .env.example's settings (what `${NAME}` gets with the committed example). */
const example = Object.fromEntries(readFileSync(join(root, '.env.example'), 'utf8').split('\n')
  .map((l) => /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(l)).filter((m) => m !== null).map((m) => [m[1]!, m[2]!]))

/** A compose value with ${NAME}, ${NAME:-default}, ${NAME:?message} resolved as compose would with .env.example. */
function interpolate (value: string): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::?([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const set = example[name]
    if (set !== undefined && set !== '') return set
    if (op === '-') return arg ?? ''
    if (op === '?') throw new Error(`${name} is required (${arg ?? ''})`)
    return set ?? ''
  })
}

const declared = [...compose.slice(compose.indexOf('\nsecrets:\n')).matchAll(/^ {2}([a-z_]+):\n {4}file: \$\{SECRETS_DIR:-\.\/secrets\}\/([a-z_]+)$/gm)]
const all = services()

t.test('no secret is an environment value: every one is a /run/secrets file the service mounts', async (t) => {
  t.ok(declared.length >= 13, `${declared.length} secrets declared`)
  for (const m of declared) t.equal(m[1], m[2], `secret ${m[1]!} is the file of the same name`)
  const names = new Set(declared.map((m) => m[1]!))
  for (const service of ['session', 'cs-messaging', 'realtime-ws', 'gateway', 'wechat-sim', 'mongo', 'redis']) t.ok(all.has(service), `${service} parsed`)
  for (const [service, { environment, secrets }] of all) {
    for (const [name, value] of Object.entries(environment)) {
      t.notOk(SECRET_VARIABLES.includes(name), `${service}: ${name} is not passed as a value`)
      const file = /^\/run\/secrets\/([a-z_]+)$/.exec(value)
      if (name.endsWith('_FILE')) {
        t.ok(file !== null, `${service}: ${name} names a secret file`)
        if (file !== null) {
          t.ok(secrets.includes(file[1]!), `${service} mounts ${file[1]!}`)
          t.ok(names.has(file[1]!), `${file[1]!} is declared`)
        }
      }
    }
  }
  for (const name of SECRET_VARIABLES) t.notMatch(compose, `\${${name}`, `no \${${name}} interpolated`)
})

t.test('MongoDB: each service its own readWrite user on MONGO_DB (deploy/mongo-init), never root', async (t) => {
  t.equal(all.get('session')!.environment.MONGO_URL_FILE, '/run/secrets/session_mongo_url')
  t.equal(all.get('cs-messaging')!.environment.MONGO_URL_FILE, '/run/secrets/cs_mongo_url')
  for (const service of ['realtime-ws', 'gateway']) t.notOk(all.get(service)!.secrets.some((s) => s.includes('mongo')), `${service} gets no MongoDB credential`)
  t.match(all.get('mongo')!.environment, { MONGO_INITDB_ROOT_PASSWORD_FILE: '/run/secrets/mongo_root_password', WEAPP_MONGO_DB: '$' + '{MONGO_DB:-weapp}' })
  t.match(compose, './deploy/mongo-init:/docker-entrypoint-initdb.d:ro')
  const init = readFileSync(join(root, 'deploy/mongo-init/weapp-users.js'), 'utf8')
  for (const user of ['weapp-session', 'weapp-cs-messaging']) t.match(init, `user: '${user}'`)
  t.match(init, /roles = \[\{ role: 'readWrite', db: dbName \}\]/, 'readWrite on the app database only')
})

t.test('Redis: the password from a secret file, and noeviction under a memory cap', async (t) => {
  const { command, secrets } = all.get('redis')!
  t.match(command, '"redis-server", "/run/secrets/redis_conf"', 'the configuration file holding requirepass comes first')
  t.match(command, '"--maxmemory-policy", "noeviction"')
  t.match(command, '"--maxmemory", "$' + '{REDIS_MAXMEMORY:-512mb}"', 'a cap (.env: REDIS_MAXMEMORY)')
  t.same(secrets, ['redis_conf'])
})

t.test('deploy/make-secrets.sh writes every declared secret, and each service boots on them as compose mounts them', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'weapp-secrets-')), 'secrets')
  t.teardown(() => { rmSync(join(dir, '..'), { recursive: true, force: true }) })
  const appSecret = randomBytes(16).toString('hex')
  const made = spawnSync('sh', [join(root, 'deploy/make-secrets.sh'), dir], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', APP_SECRET: appSecret, MONGO_DB: 'weapp' } })
  t.equal(made.status, 0, 'make-secrets.sh', { stderr: made.stderr })
  t.equal(statSync(dir).mode & 0o777, 0o700, 'the directory is its owner\'s only')
  for (const m of declared) t.ok(existsSync(join(dir, m[1]!)), `${m[1]!} written`)
  t.equal(readFileSync(join(dir, 'app_secret'), 'utf8').trim(), appSecret)
  t.match(readFileSync(join(dir, 'session_mongo_url'), 'utf8'), /^mongodb:\/\/weapp-session:[0-9a-f]{64}@mongo:27017\/\?authSource=weapp\n$/)
  const password = /^requirepass ([0-9a-f]{64})$/m.exec(readFileSync(join(dir, 'redis_conf'), 'utf8'))?.[1]
  t.equal(readFileSync(join(dir, 'redis_url'), 'utf8'), `redis://:${password ?? '?'}@redis:6379\n`)

  /** The environment compose gives a service: settings from .env.example, /run/secrets/x → the written file. */
  const envOf = (service: string): Record<string, string> => Object.fromEntries(Object.entries(all.get(service)!.environment)
    .map(([k, v]) => [k, interpolate(v).replace(/^\/run\/secrets\//, `${dir}/`)]))
  t.ok(loadSessionConfig(envOf('session')).MONGO_URL?.startsWith('mongodb://weapp-session:'))
  const cs = loadCsConfig(envOf('cs-messaging'))
  t.equal(cs.PUSH_ALLOW_PLAINTEXT, false, 'safe mode with the generated EncodingAESKey')
  t.ok(cs.MONGO_URL?.startsWith('mongodb://weapp-cs-messaging:'))
  t.ok(loadRealtimeConfig(envOf('realtime-ws')).REDIS_URL?.startsWith('redis://:'))
  const gateway = loadGatewayConfig(envOf('gateway'))
  t.match(gateway.ADMIN_API_KEYS, /^ops:[0-9a-f]{64}$/)
  t.match(gateway.METRICS_TOKEN, /^[0-9a-f]{64}$/)

  // A second run keeps what exists; without an AppSecret it says what is missing.
  const before = readFileSync(join(dir, 'internal_token'), 'utf8')
  rmSync(join(dir, 'app_secret'))
  const again = spawnSync('sh', [join(root, 'deploy/make-secrets.sh'), dir], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
  t.equal(again.status, 1)
  t.match(again.stderr, /app_secret is missing: write the mini-program's AppSecret into it/)
  t.equal(readFileSync(join(dir, 'internal_token'), 'utf8'), before, 'existing secrets are kept')
})
