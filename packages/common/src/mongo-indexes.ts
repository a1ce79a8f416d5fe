import createError from '@fastify/error'

// The indexes a service creates at boot, and what to do when MongoDB already holds one of another
// definition. Typed by shape, not by the driver's classes: common stays free of the driver (the services
// load it only when MONGO_URL is set), and the explanation is a pure function tests feed documented errors.

/** MongoDB's answer to createIndex for an index of the same key with other options, or another name. */
export const INDEX_OPTIONS_CONFLICT = 85
/** MongoDB's answer to createIndex for an index of the same name with another key. */
export const INDEX_KEY_SPECS_CONFLICT = 86

export const MongoIndexConflictError = createError<[string]>('COMMON_MONGO_INDEX_CONFLICT', 'MongoDB index conflict: %s')

/** One index as a service wants it. */
export interface IndexSpec {
  key: Record<string, 1 | -1>
  name: string
  unique?: boolean
  expireAfterSeconds?: number
  /**
   * A TTL index whose expireAfterSeconds follows a setting (MESSAGE_RETENTION_DAYS): another value in the
   * existing index is changed in place with collMod, which createIndex refuses to do.
   */
  adjustableTtl?: boolean
}

/** An index as listIndexes describes it (the fields that tell two definitions apart). */
export interface ExistingIndex {
  name: string
  key: Record<string, unknown>
  unique?: boolean
  expireAfterSeconds?: number
  [option: string]: unknown
}

/** The driver's Collection, as much as ensureIndexes uses. */
export interface IndexedCollection {
  readonly dbName: string
  readonly collectionName: string
  createIndex: (key: Record<string, 1 | -1>, options: Record<string, unknown>) => Promise<string>
  listIndexes: () => { toArray: () => Promise<unknown[]> }
}

/** The driver's Db, as much as a TTL change needs. */
export interface CommandRunner {
  command: (command: Record<string, unknown>) => Promise<unknown>
}

/** The code of a MongoDB server error (MongoServerError and its subclasses), undefined for anything else. */
export function mongoServerErrorCode (err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const { name, code } = err as { name?: unknown, code?: unknown }
  return typeof name === 'string' && name.startsWith('Mongo') && typeof code === 'number' ? code : undefined
}

export function isIndexConflict (err: unknown): boolean {
  const code = mongoServerErrorCode(err)
  return code === INDEX_OPTIONS_CONFLICT || code === INDEX_KEY_SPECS_CONFLICT
}

const sameKey = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => JSON.stringify(a) === JSON.stringify(b)

/** The definition as a person compares it: key, then the options that differ between indexes. */
function definition (index: { key: Record<string, unknown>, unique?: boolean | undefined, expireAfterSeconds?: number | undefined }): string {
  const parts = [`key ${JSON.stringify(index.key)}`]
  if (index.unique === true) parts.push('unique')
  if (index.expireAfterSeconds !== undefined) parts.push(`expireAfterSeconds ${index.expireAfterSeconds}`)
  for (const option of ['partialFilterExpression', 'sparse', 'collation']) {
    const value = (index as Record<string, unknown>)[option]
    if (value !== undefined) parts.push(`${option} ${JSON.stringify(value)}`)
  }
  return parts.join(', ')
}

/** The index in the way of `wanted`: the one of its name, else the one of its key. */
export function conflictingIndex (wanted: IndexSpec, existing: readonly ExistingIndex[]): ExistingIndex | undefined {
  return existing.find((i) => i.name === wanted.name) ?? existing.find((i) => sameKey(i.key, wanted.key))
}

/**
 * What an operator reads when boot stops on an index conflict: where, what exists, what this version
 * wants, and the command that clears the way (the service creates the index as wanted on its next start).
 */
export function indexConflictMessage (where: { db: string, collection: string }, wanted: IndexSpec, existing: ExistingIndex | undefined, code: number | undefined): string {
  const codeName = code === INDEX_KEY_SPECS_CONFLICT ? 'IndexKeySpecsConflict' : code === INDEX_OPTIONS_CONFLICT ? 'IndexOptionsConflict' : 'index conflict'
  const target = `${where.db}.${where.collection}`
  const wants = `this version wants "${wanted.name}" as ${definition(wanted)}`
  if (existing === undefined) {
    return `${target}: ${wants}, and MongoDB refused it (${codeName}, code ${code ?? '?'}) for an index it did not list; ` +
      `compare db.getSiblingDB(${JSON.stringify(where.db)}).getCollection(${JSON.stringify(where.collection)}).getIndexes() with it, drop the one in the way, and start again`
  }
  return `${target}: the index "${existing.name}" exists as ${definition(existing)}; ${wants} (${codeName}, code ${code ?? '?'}). ` +
    'Drop the existing one and start again (the service creates it as wanted): ' +
    `db.getSiblingDB(${JSON.stringify(where.db)}).getCollection(${JSON.stringify(where.collection)}).dropIndex(${JSON.stringify(existing.name)}) in mongosh`
}

function options (spec: IndexSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { name: spec.name }
  if (spec.unique === true) o.unique = true
  if (spec.expireAfterSeconds !== undefined) o.expireAfterSeconds = spec.expireAfterSeconds
  return o
}

/**
 * Creates a collection's indexes, one after the other. An index that exists as wanted is left alone
 * (createIndex of an identical definition is a no-op); an adjustable TTL index of another expireAfterSeconds
 * is changed in place; any other conflict (codes 85 and 86) throws COMMON_MONGO_INDEX_CONFLICT, which stops
 * boot with a message naming the collection, both definitions and the command to run.
 */
export async function ensureIndexes (collection: IndexedCollection, specs: readonly IndexSpec[], db?: CommandRunner): Promise<void> {
  for (const spec of specs) {
    try {
      await collection.createIndex(spec.key, options(spec))
    } catch (err) {
      if (!isIndexConflict(err)) throw err
      const existing = conflictingIndex(spec, (await collection.listIndexes().toArray()) as ExistingIndex[])
      if (isTtlChange(spec, existing) && db !== undefined) {
        await db.command({ collMod: collection.collectionName, index: { name: spec.name, expireAfterSeconds: spec.expireAfterSeconds } })
        continue
      }
      const message = indexConflictMessage({ db: collection.dbName, collection: collection.collectionName }, spec, existing, mongoServerErrorCode(err))
      throw Object.assign(new MongoIndexConflictError(message), { cause: err })
    }
  }
}

/** The existing index is the wanted one but for expireAfterSeconds, and that may change. */
export function isTtlChange (spec: IndexSpec, existing: ExistingIndex | undefined): boolean {
  return spec.adjustableTtl === true && existing !== undefined && existing.name === spec.name && sameKey(existing.key, spec.key) &&
    existing.expireAfterSeconds !== undefined && (existing.unique === true) === (spec.unique === true)
}
