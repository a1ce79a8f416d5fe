// docs/errors.md lists every error code a client can meet, once, with its status. This test keeps it so:
// it collects the codes from the source (each errors module imported and every error constructor's `code`
// and `statusCode` read; a scan adds the codes written as literals and counts the definitions) and fails
// when a code is not listed, a listed code no longer exists, two definitions share a code, or a listed
// status differs from the source's. What counts as a code is said at the top of docs/errors.md.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, posix, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { CloseCodes } from '../services/realtime-ws/src/errors.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CATALOGUE = 'docs/errors.md'

/** A status as listed: a number, or null for `—` (no HTTP status of its own, or one that varies). */
export type Status = number | null

export interface Place {
  code: string
  file: string
  line: number
}

export interface Scan {
  /** `createError('CODE'` and `super('CODE'` (the simulator's error classes): one per definition. */
  definitions: Place[]
  /** Every code written as a literal (definitions included); `status` when a status is written just before it. */
  literals: Array<Place & { status?: number }>
  /** Codes built at run time from a literal prefix (`SDK_HTTP_${status}`): the prefix. */
  templates: Place[]
}

/** What the running code says about one code: its constructors (a code must have one) and their status. */
export interface Constructed {
  constructors: Set<unknown>
  statuses: Set<Status>
  files: Set<string>
}

export interface Sources {
  scan: Scan
  constructed: Map<string, Constructed>
  /** Fastify's own codes and their statuses (`errorCodes`). */
  framework: Map<string, number>
  closeCodes: number[]
}

export interface Listed {
  code: string
  status: Status
  line: number
}

export interface Catalogue {
  codes: Listed[]
  closeCodes: number[]
  problems: string[]
}

// ---- the source ----

const CODE = String.raw`[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+`
/** Prefixes of our codes: a literal starting with one is a code unless it names an environment variable. */
export const PREFIXES = ['GATEWAY', 'COMMON', 'WECHAT', 'SESSION', 'CS', 'WS', 'SIM', 'SDK', 'PROXY']
const DEFINITION = new RegExp(String.raw`(?:\bcreateError\s*(?:<[^>()]*>)?\s*\(|\bsuper\s*\()\s*(['"])(${CODE})\1`, 'g')
/** Any code-like literal given as a `code` property (`{ code: 'X' }`), whatever its prefix. */
const CODE_PROPERTY = new RegExp(String.raw`\bcode\s*:\s*(['"\`])(${CODE})\1`, 'g')
/** nginx's own answers: `return 404 '{"statusCode":404,"code":"PROXY_NOT_FOUND",…}'`. */
const NGINX_BODY = new RegExp(String.raw`"statusCode":(\d{3}),"code":"(${CODE})"`, 'g')
/** The shared error handler: every code-like literal in it is a code it answers with (its fallbacks). */
const ERROR_HANDLER = 'packages/common/src/error-handler.ts'
const ANY_LITERAL = new RegExp(String.raw`(['"\`])(${CODE})\1`, 'g')

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length

/** Where the string literal opening at `start` ends (past its quote; a '…' or "…" string ends at a line break too). */
function stringEnd (text: string, start: number): number {
  const quote = text[start]
  for (let j = start + 1; j < text.length; j++) {
    if (text[j] === '\\') j++
    else if (text[j] === quote || (quote !== '`' && text[j] === '\n')) return j + 1
  }
  return text.length
}

/** The text with its comments blanked (line breaks kept): comments name codes in prose, only code counts. */
export function withoutComments (text: string): string {
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) {
      const end = text[i + 1] === '/' ? text.indexOf('\n', i) : text.indexOf('*/', i + 2) + 2
      const stop = end <= 1 || end === -1 ? text.length : end
      out += text.slice(i, stop).replace(/[^\n]/g, ' ')
      i = stop
    } else if (c === "'" || c === '"' || c === '`') {
      const end = stringEnd(text, i)
      out += text.slice(i, end)
      i = end
    } else {
      out += c
      i++
    }
  }
  return out
}

/**
 * Scans source files (repo-relative path → text). `variables`: environment variable names, never codes;
 * `prefixes`: those of our codes.
 */
export function scanSources (files: ReadonlyMap<string, string>, variables: ReadonlySet<string>, prefixes = PREFIXES): Scan {
  const prefixed = `(?:${prefixes.join('|')})_`
  // A prefixed literal, with a status written right before it (`answerError(…, 502, 'GATEWAY_…'`).
  const literalPattern = new RegExp(String.raw`(?:\b([1-5]\d\d)\s*,\s*)?(['"\`])(${prefixed}(?:[A-Z0-9]+_)*[A-Z0-9]+)\2`, 'g')
  // A code built at run time: `SDK_HTTP_${status}`.
  const templatePattern = new RegExp(String.raw`\`(${prefixed}(?:[A-Z0-9]+_)*)\$\{`, 'g')
  const scan: Scan = { definitions: [], literals: [], templates: [] }
  for (const [file, raw] of files) {
    const text = file.endsWith('.ts') ? withoutComments(raw) : raw
    const at = (index: number): number => lineOf(text, index)
    if (!file.endsWith('.ts')) {
      for (const m of text.matchAll(NGINX_BODY)) scan.literals.push({ code: m[2]!, file, line: at(m.index), status: Number(m[1]) })
      continue
    }
    for (const m of text.matchAll(DEFINITION)) scan.definitions.push({ code: m[2]!, file, line: at(m.index) })
    const seen = new Set<number>()
    const literal = (code: string, index: number, status?: string): void => {
      if (variables.has(code) || seen.has(index)) return
      seen.add(index)
      scan.literals.push({ code, file, line: at(index), ...(status !== undefined ? { status: Number(status) } : {}) })
    }
    for (const m of text.matchAll(literalPattern)) literal(m[3]!, m.index + m[0].lastIndexOf(m[2]! + m[3]!), m[1])
    for (const m of text.matchAll(CODE_PROPERTY)) literal(m[2]!, m.index + m[0].lastIndexOf(m[1]! + m[2]!))
    if (file === ERROR_HANDLER) for (const m of text.matchAll(ANY_LITERAL)) literal(m[2]!, m.index)
    for (const m of text.matchAll(templatePattern)) scan.templates.push({ code: m[1]!, file, line: at(m.index) })
  }
  return scan
}

/**
 * Reads the code and status of every error class a module exports, by making one: createError's
 * constructors take format arguments, the simulator's classes their details ('x' stands in; a class whose
 * status comes from its arguments then has none of its own).
 */
export function constructorsOf (modules: ReadonlyMap<string, Record<string, unknown>>): Map<string, Constructed> {
  const found = new Map<string, Constructed>()
  const codePattern = new RegExp(`^${CODE}$`)
  for (const [file, exports] of modules) {
    for (const value of Object.values(exports)) {
      if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue
      let made: { code?: unknown, statusCode?: unknown }
      try {
        made = new (value as new (...args: unknown[]) => Error)('x', 'x', 'x', 'x') as typeof made
      } catch {
        continue
      }
      if (typeof made.code !== 'string' || !codePattern.test(made.code)) continue
      const entry = found.get(made.code) ?? { constructors: new Set(), statuses: new Set(), files: new Set() }
      entry.constructors.add(value)
      entry.statuses.add(typeof made.statusCode === 'number' ? made.statusCode : null)
      entry.files.add(file)
      found.set(made.code, entry)
    }
  }
  return found
}

// ---- the catalogue ----

const cells = (line: string): string[] => line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim())

/** The rows of every table whose header starts `| code | status |`, and of the `| close code |` table. */
export function parseCatalogue (markdown: string): Catalogue {
  const catalogue: Catalogue = { codes: [], closeCodes: [], problems: [] }
  let header: string[] | null = null
  markdown.split('\n').forEach((line, i) => {
    if (!line.startsWith('|')) {
      header = null
      return
    }
    const row = cells(line)
    if (header === null) {
      header = row
      return
    }
    if (row.every((c) => /^:?-+:?$/.test(c))) return
    if (header[0] === 'close code') {
      if (/^\d+$/.test(row[0]!)) catalogue.closeCodes.push(Number(row[0]))
      else catalogue.problems.push(`${CATALOGUE}:${i + 1}: "${row[0]}" is not a close code`)
      return
    }
    if (header[0] !== 'code' || header[1] !== 'status') return
    const code = /^`([^`]+)`$/.exec(row[0]!)?.[1]
    const status = row[1] === '—' ? null : /^\d{3}$/.test(row[1]!) ? Number(row[1]) : undefined
    if (code === undefined || status === undefined) {
      catalogue.problems.push(`${CATALOGUE}:${i + 1}: a row needs \`CODE\` and a status (a number or —): ${line}`)
      return
    }
    catalogue.codes.push({ code, status, line: i + 1 })
  })
  return catalogue
}

// ---- the checks ----

const where = (p: { file: string, line: number }): string => `${p.file}:${p.line}`
const shown = (s: Status): string => s === null ? '—' : String(s)
/** `SDK_HTTP_<status>` is listed for the template prefix `SDK_HTTP_`. */
const templatePrefix = (listed: string): string | null => listed.includes('<') ? listed.slice(0, listed.indexOf('<')) : null

export function checkCatalogue (sources: Sources, catalogue: Catalogue): string[] {
  const problems = [...catalogue.problems]
  const { scan, constructed, framework } = sources
  const listed = new Map<string, Listed>()
  for (const entry of catalogue.codes) {
    const before = listed.get(entry.code)
    if (before !== undefined) problems.push(`${entry.code} is listed twice (${CATALOGUE}:${before.line} and :${entry.line})`)
    else listed.set(entry.code, entry)
  }
  const listedTemplates = new Set([...listed.keys()].map(templatePrefix).filter((p) => p !== null))

  // Each code has one definition.
  const definitions = new Map<string, Place[]>()
  for (const d of scan.definitions) definitions.set(d.code, [...(definitions.get(d.code) ?? []), d])
  for (const [code, places] of definitions) {
    if (places.length > 1) problems.push(`${code} is defined ${places.length} times (${places.map(where).join(', ')}): one code, one definition, one meaning`)
  }
  for (const [code, c] of constructed) {
    if (c.constructors.size > 1 && (definitions.get(code)?.length ?? 0) <= 1) problems.push(`${code} is made by ${c.constructors.size} error classes (${[...c.files].join(', ')}): one code, one definition`)
  }

  // Every code of the source is listed, with the status it is defined or answered with.
  const inSource = new Map<string, string>()
  for (const p of [...scan.definitions, ...scan.literals]) if (!inSource.has(p.code)) inSource.set(p.code, where(p))
  for (const [code, c] of constructed) if (!inSource.has(code)) inSource.set(code, [...c.files].join(', '))
  for (const [code, at] of inSource) {
    if (!listed.has(code)) problems.push(`${code} (${at}) is not in ${CATALOGUE}`)
  }
  for (const p of scan.templates) {
    if (!listedTemplates.has(p.code)) problems.push(`${p.code}<…> (${where(p)}) is not in ${CATALOGUE}`)
  }
  for (const [code, c] of constructed) {
    const entry = listed.get(code)
    if (entry === undefined) continue
    for (const status of c.statuses) {
      if (status !== entry.status) problems.push(`${code}: ${CATALOGUE}:${entry.line} says ${shown(entry.status)}, its constructor's statusCode is ${shown(status)}`)
    }
  }
  for (const p of scan.literals) {
    const entry = listed.get(p.code)
    if (entry !== undefined && p.status !== undefined && p.status !== entry.status) {
      problems.push(`${p.code}: ${CATALOGUE}:${entry.line} says ${shown(entry.status)}, ${where(p)} answers it with ${p.status}`)
    }
  }

  // Every listed code still exists.
  const templates = new Set(scan.templates.map((p) => p.code))
  for (const entry of listed.values()) {
    const prefix = templatePrefix(entry.code)
    if (prefix !== null) {
      if (!templates.has(prefix)) problems.push(`${entry.code} (${CATALOGUE}:${entry.line}) is built nowhere in the source`)
    } else if (entry.code.startsWith('FST_')) {
      const status = framework.get(entry.code)
      if (status === undefined) problems.push(`${entry.code} (${CATALOGUE}:${entry.line}) is not one of Fastify's errorCodes`)
      else if (status !== entry.status) problems.push(`${entry.code}: ${CATALOGUE}:${entry.line} says ${shown(entry.status)}, Fastify's is ${status}`)
    } else if (!inSource.has(entry.code)) {
      problems.push(`${entry.code} (${CATALOGUE}:${entry.line}) no longer exists in the source`)
    }
  }

  // The close codes, both ways.
  const closeListed = new Set(catalogue.closeCodes)
  for (const c of new Set(sources.closeCodes)) if (!closeListed.has(c)) problems.push(`close code ${c} (CloseCodes) is not in ${CATALOGUE}`)
  for (const c of closeListed) if (!sources.closeCodes.includes(c)) problems.push(`close code ${c} is listed in ${CATALOGUE} but not in CloseCodes`)
  return problems
}

// ---- the repository ----

const toPosix = (p: string): string => p.split(sep).join(posix.sep)

function walk (dir: string, out: string[]): string[] {
  let names: string[]
  try { names = readdirSync(dir) } catch { return out }
  for (const name of names) {
    if (name === 'node_modules' || name === 'dist') continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** Every `src/` of the gateway, the services and the packages, and nginx's configuration template. */
function sourceFiles (): Map<string, string> {
  const dirs = [join(ROOT, 'gateway', 'src')]
  for (const parent of ['services', 'packages']) {
    for (const name of readdirSync(join(ROOT, parent))) dirs.push(join(ROOT, parent, name, 'src'))
  }
  const paths = dirs.flatMap((d) => walk(d, [])).concat(join(ROOT, 'nginx', 'weapp.conf.template'))
  return new Map(paths.sort().map((p) => [toPosix(relative(ROOT, p)), readFileSync(p, 'utf8')]))
}

/** Names the `.env.example` files give (`NAME=` or `# NAME=`): configuration, not error codes. */
function environmentVariables (): Set<string> {
  const files = [join(ROOT, '.env.example'), join(ROOT, 'gateway', '.env.example')]
  for (const parent of ['services', 'packages']) {
    for (const name of readdirSync(join(ROOT, parent))) files.push(join(ROOT, parent, name, '.env.example'))
  }
  const names = new Set<string>()
  for (const f of files) {
    let text: string
    try { text = readFileSync(f, 'utf8') } catch { continue }
    for (const m of text.matchAll(/^[#\s]*([A-Z][A-Z0-9_]*)=/gm)) names.add(m[1]!)
  }
  return names
}

async function repositorySources (): Promise<Sources> {
  const files = sourceFiles()
  const scan = scanSources(files, environmentVariables())
  const modules = new Map<string, Record<string, unknown>>()
  for (const file of new Set(scan.definitions.map((d) => d.file))) {
    modules.set(file, await import(pathToFileURL(join(ROOT, file)).href) as Record<string, unknown>)
  }
  // Fastify is a dependency of the services, not of the root: resolved from the gateway.
  const fastify = createRequire(join(ROOT, 'gateway', 'package.json'))('fastify') as { errorCodes: Record<string, new () => { statusCode?: number }> }
  const framework = new Map(Object.entries(fastify.errorCodes).map(([code, E]) => [code, new E().statusCode ?? 500]))
  return { scan, constructed: constructorsOf(modules), framework, closeCodes: Object.values(CloseCodes) }
}

// ---- tests ----

t.test('the checks catch what they should, and only that', async (t) => {
  class Coded extends Error {
    constructor (readonly code: string, readonly statusCode?: unknown) { super(code) }
  }
  const made = (code: string, status?: unknown): unknown => class extends Coded { constructor () { super(code, status) } }
  const files = new Map([
    ['a/src/errors.ts', "export const A = createError<[string]>('A_ONE', 'One: %s', 400)\nexport class B extends SimError { constructor () { super('A_TWO', 404, 'x') } }"],
    // A source with a code built at run time: the template is the fixture's text, not this file's.
    // eslint-disable-next-line no-template-curly-in-string
    ['a/src/use.ts', "// 'A_GONE' in a comment is prose\nanswer(400, 'A_ONE'); const url = env['A_URL']; reply.send({ code: 'OTHER_CODE' }); `A_HTTP_${status}`"],
    ['nginx/x.template', 'return 404 \'{"statusCode":404,"code":"A_PROXY","error":"Not Found"}\';']
  ])
  const sources = (extra: Record<string, string> = {}, classes: Record<string, unknown> = {}): Sources => {
    const all = new Map([...files, ...Object.entries(extra)])
    const scan = scanSources(all, new Set(['A_URL']), ['A'])
    const modules = new Map<string, Record<string, unknown>>([['a/src/errors.ts', { A: made('A_ONE', 400), B: made('A_TWO', 404), ...classes }]])
    return { scan, constructed: constructorsOf(modules), framework: new Map([['FST_ERR_X', 415]]), closeCodes: [1000, 4001] }
  }
  const doc = (rows: string[], close = ['1000', '4001']): Catalogue => parseCatalogue([
    '| code | status | meaning | what the client should do |', '|---|---|---|---|', ...rows, '',
    '| close code | meaning | what the client should do |', '|---|---|---|', ...close.map((c) => `| ${c} | x | y |`)
  ].join('\n'))
  const complete = ['| `A_ONE` | 400 | a | b |', '| `A_TWO` | 404 | a | b |', '| `OTHER_CODE` | — | a | b |', '| `A_PROXY` | 404 | a | b |', '| `A_HTTP_<status>` | — | a | b |', '| `FST_ERR_X` | 415 | a | b |']

  const problems = (extra?: Record<string, string>, classes?: Record<string, unknown>, rows = complete, close?: string[]): string[] =>
    checkCatalogue(sources(extra, classes), doc(rows, close))
  const replaced = (from: string, to: string): string[] => complete.map((r) => r.replace(from, to))

  t.same(problems(), [], 'a complete catalogue passes')
  t.same(problems({ 'a/src/more.ts': "export const N = createError('A_NEW', 'New', 409)" }), ['A_NEW (a/src/more.ts:1) is not in docs/errors.md'], 'an undocumented createError code')
  t.same(problems({ 'a/src/more.ts': "send({ code: 'B_LITERAL' })" }), ['B_LITERAL (a/src/more.ts:1) is not in docs/errors.md'], 'an undocumented literal code')
  t.same(problems({}, {}, [...complete, '| `A_GONE` | 400 | a | b |']), ['A_GONE (docs/errors.md:9) no longer exists in the source'], 'a listed code that is gone')
  t.same(problems({}, {}, [...complete, '| `FST_ERR_NONE` | 400 | a | b |']), ['FST_ERR_NONE (docs/errors.md:9) is not one of Fastify\'s errorCodes'])
  t.same(problems({}, {}, replaced('| `FST_ERR_X` | 415', '| `FST_ERR_X` | 400')), ['FST_ERR_X: docs/errors.md:8 says 400, Fastify\'s is 415'])
  t.same(problems({ 'a/src/dup.ts': "export const D = createError('A_ONE', 'Again', 401)" }, { D: made('A_ONE', 401) }), [
    'A_ONE is defined 2 times (a/src/errors.ts:1, a/src/dup.ts:1): one code, one definition, one meaning',
    'A_ONE: docs/errors.md:3 says 400, its constructor\'s statusCode is 401'
  ], 'one code defined twice')
  t.same(problems({}, { C: made('A_ONE', 400) }), ['A_ONE is made by 2 error classes (a/src/errors.ts): one code, one definition'], 'two constructors with one code, however written')
  t.same(problems({}, {}, replaced('| `A_ONE` | 400', '| `A_ONE` | 401')), [
    'A_ONE: docs/errors.md:3 says 401, its constructor\'s statusCode is 400',
    'A_ONE: docs/errors.md:3 says 401, a/src/use.ts:2 answers it with 400'
  ], 'a wrong status, against the constructor and a literal answer')
  t.same(problems({}, {}, replaced('| `A_TWO` | 404', '| `A_TWO` | —')), ['A_TWO: docs/errors.md:4 says —, its constructor\'s statusCode is 404'])
  t.same(problems({}, {}, replaced('| `A_PROXY` | 404', '| `A_PROXY` | 502')), ['A_PROXY: docs/errors.md:6 says 502, nginx/x.template:1 answers it with 404'])
  t.same(problems({}, {}, complete.filter((r) => !r.includes('A_HTTP'))), ['A_HTTP_<…> (a/src/use.ts:2) is not in docs/errors.md'])
  t.same(problems({}, {}, [...complete, '| `A_ONE` | 400 | again | b |']), ['A_ONE is listed twice (docs/errors.md:3 and :9)'])
  t.same(problems({}, {}, complete, ['1000', '4002']), ['close code 4001 (CloseCodes) is not in docs/errors.md', 'close code 4002 is listed in docs/errors.md but not in CloseCodes'])
  t.same(problems({}, {}, [...complete, '| A_BARE | 4xx | a | b |']), ['docs/errors.md:9: a row needs `CODE` and a status (a number or —): | A_BARE | 4xx | a | b |'])
  t.same(scanSources(files, new Set(['A_URL']), ['A']).literals.map((l) => l.code).filter((c) => c === 'A_GONE' || c === 'A_URL'), [], 'comments and environment variables are no codes')
})

t.test('docs/errors.md lists every error code of the source, once, with its status', async (t) => {
  const sources = await repositorySources()
  const catalogue = parseCatalogue(readFileSync(join(ROOT, CATALOGUE), 'utf8'))
  t.ok(sources.constructed.size >= 80, `${sources.constructed.size} error constructors read`)
  t.ok(catalogue.codes.length >= 100, `${catalogue.codes.length} codes listed`)
  t.same(checkCatalogue(sources, catalogue), [], 'the catalogue and the source agree')
})
