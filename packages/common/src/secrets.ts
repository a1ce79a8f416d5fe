import { isIP } from 'node:net'

/**
 * Boot-time checks of secret variables. A schema marks each secret with an option on its schema,
 * which loadConfig reads (one place for every service):
 * - `secret: true`: the whole value is the secret (INTERNAL_TOKEN, APP_SECRET, ...);
 * - `secret: 'url'`: a connection URL whose password, when it has one, is the secret (REDIS_URL, MONGO_URL);
 * - `secret: 'id-key-list'`: comma-separated `id:key` pairs whose keys are secrets (ADMIN_API_KEYS).
 * A secret is refused when it is a placeholder, a value published in this repository, or too easy to guess.
 */
export type SecretMarker = true | 'url' | 'id-key-list'

const MARKERS = new Set<unknown>([true, 'url', 'id-key-list'])

/**
 * The entropy measure: a value of n characters that uses d distinct characters is at best one of d^n
 * strings, so it carries at most n × log2(d) bits. One repeated character scores 0, `abab…` 1 bit per
 * character. It catches lazy values, not clever patterns (those are what PUBLISHED_SECRETS is for).
 */
export function estimatedBits (value: string): number {
  const chars = Array.from(value)
  const distinct = new Set(chars).size
  return distinct < 2 ? 0 : chars.length * Math.log2(distinct)
}

/** 32 random hex characters score about 120, `openssl rand -hex 32` about 250; a 16-character value needs 16 different characters. */
export const MIN_SECRET_BITS = 64

/** How to make a good value; said once after the refusals. */
export const SECRET_HINT = 'secrets: random values (openssl rand -hex 32; 16 for WECHAT_TOKEN), or the WeChat console\'s own AppSecret and EncodingAESKey'

/** "Fill me in" words, compared with the value's letters only, case-folded: change-me, CHANGE_ME, changeMe, change0me. */
export const PLACEHOLDER_WORDS: readonly string[] = ['changeme', 'replaceme', 'placeholder']

export function isPlaceholder (value: string): boolean {
  const letters = value.toLowerCase().replace(/[^a-z]/g, '')
  return PLACEHOLDER_WORDS.some((word) => letters.includes(word))
}

export interface PublishedSecret {
  readonly value: string
  /** Where it is published (for maintainers). */
  readonly source: string
  /** The one variable that may still hold it, and when. */
  readonly allowed?: { readonly variable: string, readonly when: (config: Readonly<Record<string, unknown>>) => boolean }
}

/**
 * Secret values anyone can read: examples the repository ships (every .env.example, README and docs)
 * and WeChat's documentation. packages/common/test/published-secrets.test.ts scans the repository's
 * .env.example, Markdown and compose files for secret-looking values and fails until each is refused
 * (a placeholder word, too little entropy, or listed here): add a new published example to this list.
 */
export const PUBLISHED_SECRETS: readonly PublishedSecret[] = [
  {
    // DEFAULT_SIM_APP in packages/wechat-sim/src/defaults.ts (the test checks they stay equal).
    value: '5e1a0c9d7b3f42e8a6c4d2b0f9e7c5a3',
    source: "the WeChat simulator's development AppSecret",
    // The simulator knows it, so it is what the dev stack (npm run up, tests, benches) logs in with.
    // A loopback WECHAT_API_BASE is never WeChat, and only reachable from this machine.
    allowed: { variable: 'APP_SECRET', when: (config) => isLoopbackUrl(config.WECHAT_API_BASE) }
  },
  { value: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', source: "WeChat's documentation's example EncodingAESKey" }
]

const published = new Map(PUBLISHED_SECRETS.map((p) => [p.value, p]))

/** http(s)://localhost, 127.0.0.0/8 or [::1]: a process on this machine. */
export function isLoopbackUrl (url: unknown): boolean {
  if (typeof url !== 'string') return false
  let host: string
  try {
    host = new URL(url).hostname
  } catch {
    return false
  }
  if (host === 'localhost') return true
  if (host === '[::1]') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/**
 * Why `value` cannot be a secret (a phrase to follow the variable's name), or undefined when it may.
 * Never includes the value. `allowPublished`: the caller checked a published value's allowance.
 */
export function secretWeakness (value: string, allowPublished = false): string | undefined {
  if (isPlaceholder(value)) return 'is a placeholder (it contains change-me or the like)'
  if (!allowPublished && published.has(value)) return 'is a value published in this repository or WeChat\'s documentation'
  if (estimatedBits(value) < MIN_SECRET_BITS) return `has too little entropy (under ${MIN_SECRET_BITS} bits by length × log2(distinct characters))`
  return undefined
}

/** The password of a `scheme://user:password@host…` URL, percent-decoded; undefined without one. */
export function urlPassword (url: string): string | undefined {
  const start = url.indexOf('://')
  if (start === -1) return undefined
  const rest = url.slice(start + 3)
  const end = rest.search(/[/?#]/)
  const authority = end === -1 ? rest : rest.slice(0, end)
  const at = authority.lastIndexOf('@')
  if (at === -1) return undefined
  const userinfo = authority.slice(0, at)
  const colon = userinfo.indexOf(':')
  if (colon === -1) return undefined
  const password = userinfo.slice(colon + 1)
  if (password === '') return undefined
  try {
    return decodeURIComponent(password)
  } catch {
    return password
  }
}

/** The secret parts of a marked variable's value, each with how to name it in a message. */
function secretParts (name: string, marker: SecretMarker, value: string): Array<{ label: string, value: string }> {
  if (marker === true) return [{ label: name, value }]
  if (marker === 'url') {
    const password = urlPassword(value)
    return password === undefined ? [] : [{ label: `${name}'s password`, value: password }]
  }
  // id:key pairs as gateway/src/auth/admin-keys.ts parses them; malformed entries are its to report.
  return value.split(',').map((s) => s.trim()).flatMap((entry, i) => {
    const colon = entry.indexOf(':')
    if (colon <= 0 || colon === entry.length - 1) return []
    return [{ label: `${name} entry ${i + 1} (${entry.slice(0, colon)}): the key`, value: entry.slice(colon + 1) }]
  })
}

/**
 * The problems of every variable the schema marks `secret`, one line each, naming the variable and
 * never its value. `config` is the validated environment (defaults applied); `skip` the variables
 * already reported as malformed.
 */
export function secretProblems (properties: Readonly<Record<string, unknown>>, config: Readonly<Record<string, unknown>>, skip: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = []
  for (const [name, schema] of Object.entries(properties)) {
    const marker = (schema as { secret?: unknown }).secret
    if (marker === undefined) continue
    if (!MARKERS.has(marker)) throw new TypeError(`schema of ${name}: secret must be true, 'url' or 'id-key-list'`)
    const value = config[name]
    if (typeof value !== 'string' || skip.has(name)) continue
    for (const part of secretParts(name, marker as SecretMarker, value)) {
      const allowance = published.get(part.value)?.allowed
      const allowed = allowance !== undefined && allowance.variable === name && allowance.when(config)
      const weakness = secretWeakness(part.value, allowed)
      if (weakness !== undefined) problems.push(`${part.label} ${weakness}`)
    }
  }
  return problems
}
