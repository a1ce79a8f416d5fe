import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject } from 'ajv'
import Type, { type Static, type TObject, type TProperties } from 'typebox'
import { ConfigInvalidError } from './errors.js'
import { SECRET_HINT, secretProblems } from './secrets.js'
import { VALIDATE_SCHEMAS } from './schema-checks.js'

/**
 * Variables every service reads. Secrets may also come from a file named by `<NAME>_FILE`
 * (Docker/Kubernetes secrets), so they need not sit in the environment. `secret` marks what
 * loadConfig checks as a secret (secrets.ts).
 */
export const CommonEnv = {
  HOST: Type.String({ default: '127.0.0.1' }),
  LOG_LEVEL: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], { default: 'info' }),
  /** Shared secret between the gateway and the services behind it. */
  INTERNAL_TOKEN: Type.String({ minLength: 32, secret: true }),
  /** Absent: the embedded in-process implementations are used. */
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', secret: 'url' })),
  /**
   * Without REDIS_URL: the bus hub realtime-ws serves (ws://<realtime-ws>/internal/bus), so this process's
   * events meet the others'. Absent too: an in-process bus (this process alone). realtime-ws ignores it:
   * without Redis it is the hub.
   */
  BUS_HUB_URL: Type.Optional(Type.String({ pattern: '^wss?://[^\\s]+$' })),
  /** How long shutdown may take before the process is stopped anyway. */
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000 })
} satisfies TProperties

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true, strict: false, validateSchema: VALIDATE_SCHEMAS })

function variableOf (e: ErrorObject): string {
  return e.keyword === 'required' ? String(e.params.missingProperty) : e.instancePath.replace(/^\//, '')
}

function describe (e: ErrorObject): string {
  if (e.keyword === 'required') return `${variableOf(e)} is required`
  return `${variableOf(e)} ${e.message ?? 'is invalid'}`
}

/**
 * Validates the environment against a schema, applies defaults and coerces numbers and booleans,
 * and refuses weak secrets (the variables marked `secret`: secrets.ts).
 * Throws COMMON_CONFIG_INVALID naming every missing or bad variable, never their values.
 */
export function loadConfig<T extends TObject> (schema: T, env: NodeJS.ProcessEnv = process.env): Static<T> {
  const input: Record<string, unknown> = {}
  const problems: string[] = []
  for (const key of Object.keys(schema.properties)) {
    const direct = env[key]
    const file = env[`${key}_FILE`]
    if (direct !== undefined && direct !== '') {
      input[key] = direct
    } else if (file !== undefined && file !== '') {
      let content: string | undefined
      try {
        content = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
      } catch {
        problems.push(`${key}_FILE names a file that cannot be read`)
      }
      // An empty file is an unset variable, as an empty one is (a compose secret that must exist, left empty).
      if (content !== undefined && content !== '') input[key] = content
    }
  }
  const validate = ajv.compile(schema)
  const errors = validate(input) ? [] : validate.errors ?? []
  problems.push(...errors.map(describe))
  // After validation: defaults decide some allowances (WECHAT_API_BASE); malformed values are reported once.
  const weak = secretProblems(schema.properties, input, new Set(errors.map(variableOf)))
  if (weak.length > 0) problems.push(...weak, SECRET_HINT)
  if (problems.length > 0) throw new ConfigInvalidError(problems.join('; '))
  return input as Static<T>
}
