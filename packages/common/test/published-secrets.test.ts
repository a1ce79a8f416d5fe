// "Published" made checkable: every secret-looking value the repository shows its readers (every
// .env.example, the Markdown docs, the compose and deploy files, the simulator's development app) must be
// refused as a secret at boot, by a placeholder word, too little entropy, or PUBLISHED_SECRETS
// (packages/common/src/secrets.ts). A new example that would pass fails this test until it is listed there.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { PUBLISHED_SECRETS, secretWeakness, urlPassword } from '@weapp/common'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'

const root = new URL('../../../', import.meta.url).pathname
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', '.run', 'coverage', '.tap', '.scratch', 'secrets', 'certs'])
const isScanned = (name: string): boolean => name.endsWith('.env.example') || /\.(md|ya?ml|sh)$/.test(name)

function * scannedFiles (dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) yield * scannedFiles(join(dir, entry.name))
    } else if (entry.isFile() && isScanned(entry.name)) {
      yield join(dir, entry.name)
    }
  }
}

// NAME=value, NAME: value, "name": "value", name=value in a query: names that say secret.
const ASSIGNMENT = /\b([A-Za-z0-9_]*?(?:secret|token|password|passwd|aeskey|aes_key|api_keys?))["'`]?[ \t]*[=:][ \t]*["'`]?([^\s"'`;)&<>|]*)/gi
const URL_WITH_USERINFO = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>@/]*@[^\s"'`<>]*/gi

/** What a reader is told to write instead of a value: empty, a variable, a command, `<...>`, `…`, a comment. */
function isInstruction (value: string): boolean {
  return value === '' || /^[$<{%#]/.test(value) || value.includes('…') || value.includes('...')
}

/** The secret-looking values in a text, with their line numbers. */
function candidates (text: string): Array<{ line: number, value: string }> {
  const found: Array<{ line: number, value: string }> = []
  const lineOf = (index: number): number => text.slice(0, index).split('\n').length
  for (const m of text.matchAll(ASSIGNMENT)) {
    let value = m[2]!.replace(/[.:,]+$/, '')
    // A compose default: ${NAME:-value} publishes value.
    const fallback = /^\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}$/.exec(value)
    if (fallback !== null) value = fallback[1]!
    if (isInstruction(value)) continue
    found.push({ line: lineOf(m.index), value })
    // id:key pairs (ADMIN_API_KEYS): each key too.
    for (const entry of value.split(',')) {
      const colon = entry.indexOf(':')
      if (colon > 0 && colon < entry.length - 1) found.push({ line: lineOf(m.index), value: entry.slice(colon + 1) })
    }
  }
  for (const m of text.matchAll(URL_WITH_USERINFO)) {
    const password = urlPassword(m[0])
    if (password !== undefined && !isInstruction(password)) found.push({ line: lineOf(m.index), value: password })
  }
  return found
}

t.test('the extractor finds what a reader could copy', async (t) => {
  const sample = [
    'INTERNAL_TOKEN=0f3a9c8e7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b',
    'ADMIN_API_KEYS=ops:k8Qz1Rw2Ty3Ui4Op5As6Df7Gh8Jk9Lz0Xc',
    '  APP_SECRET: "5e1a0c9d7b3f42e8a6c4d2b0f9e7c5a3"',
    'METRICS_TOKEN: $' + '{METRICS_TOKEN:-m9Nb8Vc7Xz6Lk5Jh4Gf3Ds2Aq1Wu0Ey}', // a compose default
    'curl "https://api.weixin.qq.com/cgi-bin/token?appid=wx1&secret=abcdefabcdef0123456789abcdef0123&x=1"',
    'REDIS_URL=redis://:Zr8Yq7Xp6Wo5Vn4Um3Tl2Sk1Rj0Qi9P@redis:6379',
    'INTERNAL_TOKEN=                 # empty: an instruction',
    'INTERNAL_TOKEN=$(openssl rand -hex 32)',
    'APP_SECRET=<the AppSecret from the console>',
    'WECHAT_TOKEN_FILE=/run/secrets/wechat_token'
  ].join('\n')
  t.same(candidates(sample).map((c) => c.value), [
    '0f3a9c8e7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b',
    'ops:k8Qz1Rw2Ty3Ui4Op5As6Df7Gh8Jk9Lz0Xc',
    'k8Qz1Rw2Ty3Ui4Op5As6Df7Gh8Jk9Lz0Xc',
    '5e1a0c9d7b3f42e8a6c4d2b0f9e7c5a3',
    'm9Nb8Vc7Xz6Lk5Jh4Gf3Ds2Aq1Wu0Ey',
    'abcdefabcdef0123456789abcdef0123',
    'Zr8Yq7Xp6Wo5Vn4Um3Tl2Sk1Rj0Qi9P'
  ])
})

t.test('every secret-looking value in the repository\'s .env.example files, docs and compose files is refused', async (t) => {
  const files = [...scannedFiles(root)].map((f) => relative(root, f))
  for (const expected of ['.env.example', 'gateway/.env.example', 'services/session/.env.example', 'services/cs-messaging/.env.example', 'services/realtime-ws/.env.example', 'README.md', 'docker-compose.yml']) {
    t.ok(files.includes(expected), `${expected} is scanned`)
  }
  const accepted: string[] = []
  let count = 0
  for (const file of files) {
    for (const { line, value } of candidates(readFileSync(join(root, file), 'utf8'))) {
      count++
      if (secretWeakness(value) === undefined) accepted.push(`${file}:${line}: ${value}`)
    }
  }
  t.same(accepted, [], `${count} values in ${files.length} files; any listed here would pass as a secret: add it to PUBLISHED_SECRETS or change the example`)
})

t.test('the published list: the simulator\'s development secret (kept in step) and the rest, all refused', async (t) => {
  t.ok(PUBLISHED_SECRETS.some((p) => p.value === DEFAULT_SIM_APP.appSecret), 'DEFAULT_SIM_APP.appSecret is listed')
  for (const { value, source } of PUBLISHED_SECRETS) t.match(secretWeakness(value), /published/, source)
})

t.test('the values the .env.example files shipped before secrets were checked are all refused', async (t) => {
  for (const value of [
    'change-me-internal-token-32-characters-or-more',
    'change-me-to-a-random-string-of-32-chars-or-more',
    'change-me-to-a-long-random-internal-token',
    'change-me-admin-key-32-characters-or-more',
    'change-me-mongo-password',
    'change-me-redis-password',
    'changeMePushToken',
    'change-me-push-token',
    'change0me0to0the0console0EncodingAESKey0000',
    '5e1a0c9d7b3f42e8a6c4d2b0f9e7c5a3'
  ]) t.not(secretWeakness(value), undefined, value)
})
