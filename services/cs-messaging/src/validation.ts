import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

/** At most this many problems are named in one 400 (the first ones found). */
const MAX_ERRORS = 3

type ValidationResult = { value: unknown } | { error: FastifySchemaValidationError[] }

interface RawError { keyword: string, instancePath: string, schemaPath: string, params: Record<string, unknown>, message: string }

/**
 * TypeBox's errors as short sentences naming the field: the duplicate "schema is false" entries of
 * additionalProperties are dropped, and unknown properties are named.
 */
function describe (errors: Iterable<RawError>): FastifySchemaValidationError[] {
  const out: FastifySchemaValidationError[] = []
  const seen = new Set<string>()
  for (const e of errors) {
    if (e.keyword === 'boolean') continue
    let message = e.message
    if (e.keyword === 'additionalProperties' && Array.isArray(e.params.additionalProperties)) {
      message = `must not have the propert${e.params.additionalProperties.length === 1 ? 'y' : 'ies'} ${e.params.additionalProperties.join(', ')}`
    } else if (e.keyword === 'required' && Array.isArray(e.params.requiredProperties)) {
      message = `must have the propert${e.params.requiredProperties.length === 1 ? 'y' : 'ies'} ${e.params.requiredProperties.join(', ')}`
    } else if (e.keyword === 'pattern' && typeof e.params.pattern === 'string') {
      message = `must match the pattern ${e.params.pattern}`
    }
    const line = `${e.instancePath} ${message}`
    if (seen.has(line)) continue
    seen.add(line)
    out.push({ keyword: e.keyword, instancePath: e.instancePath, schemaPath: e.schemaPath, params: e.params, message })
    if (out.length === MAX_ERRORS) break
  }
  return out
}

function checker (schema: TSchema): (value: unknown) => ValidationResult {
  const compiled = Compile(schema)
  return (value) => compiled.Check(value) ? { value } : { error: describe(compiled.Errors(value) as Iterable<RawError>) }
}

/**
 * Strict validation for JSON APIs: bodies are checked as sent (no type coercion, unknown properties
 * refused rather than silently dropped, unlike Fastify's default Ajv settings); querystring, params and
 * headers are converted from strings first, as they must be.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = checker(schema)
  if (httpPart === 'body') return check
  return (value) => check(Value.Convert(schema, value))
}

/**
 * A body that is one of several object shapes told apart by one property (msgtype): the value of that
 * property picks the schema, so a 400 names what is wrong with that shape instead of every branch's
 * mismatch. Other HTTP parts are validated as strictValidatorCompiler does.
 */
export function discriminatedBodyCompiler (property: string, branches: Readonly<Record<string, TSchema>>): FastifySchemaCompiler<TSchema> {
  const checks = new Map(Object.entries(branches).map(([name, schema]) => [name, checker(schema)]))
  const allowed = [...checks.keys()].join(', ')
  const body = (value: unknown): ValidationResult => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { error: [{ keyword: 'type', instancePath: '', schemaPath: '#', params: {}, message: 'must be a JSON object' }] }
    }
    const tag = (value as Record<string, unknown>)[property]
    const check = typeof tag === 'string' ? checks.get(tag) : undefined
    if (check === undefined) {
      return { error: [{ keyword: 'enum', instancePath: `/${property}`, schemaPath: '#', params: { allowedValues: [...checks.keys()] }, message: `must be one of ${allowed}` }] }
    }
    return check(value)
  }
  return (routeSchema) => routeSchema.httpPart === 'body' ? body : strictValidatorCompiler(routeSchema)
}
