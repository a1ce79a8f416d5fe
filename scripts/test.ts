// Runs every test of the repository in one tap run and ends with the plain line CI reads:
// "N passed, N failed" (assertions, as tap counts them). Starts a throw-away redis-server when
// REDIS_URL is unset and the binary exists, so Redis-backed code is tested for real.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { ensureBuilt } from './build.js'
import { startLocalRedis } from './redis-server.js'

const TEST_GLOBS = ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'gateway/test/**/*.test.ts', 'e2e/**/*.test.ts', 'bench/test/**/*.test.ts']

// End-to-end tests run the compiled services, as production does: compile what changed first.
ensureBuilt()

// Schemas are code: the test run checks each one against the meta-schema (production skips it: schema-checks.ts).
const env: NodeJS.ProcessEnv = { ...process.env, WEAPP_VALIDATE_SCHEMAS: '1' }
let redis = null
if (env.REDIS_URL === undefined || env.REDIS_URL === '') {
  redis = await startLocalRedis()
  if (redis === null) {
    console.log('redis-server is not installed: Redis-backed tests will be skipped (apt-get install redis-server to run them)')
  } else {
    env.REDIS_URL = redis.url
    console.log(`started a throw-away redis-server at ${redis.url}`)
  }
}
if (env.MONGO_URL === undefined) console.log('MONGO_URL is not set: MongoDB repository tests will be skipped')

const reporter = process.stdout.isTTY ? 'terse' : 'tap'
// Files named on the command line replace the default set: `pnpm test:all gateway/test/auth.test.ts`.
const args = process.argv.slice(2)
const files = args.some((a) => !a.startsWith('-')) ? [] : TEST_GLOBS
const child = spawn(join('node_modules', '.bin', 'tap'), [`--reporter=${reporter}`, ...args, ...files], { env, stdio: ['ignore', 'pipe', 'inherit'] })
let tail = ''
// Failed tests, as tap names them ("not ok 3 - e2e/x.test.ts", nested ones indented), repeated before the
// summary: CI shows only the end of a long log, and the coverage table pushes the failure out of it.
const failures: string[] = []
let partial = ''
child.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk)
  const text = chunk.toString('utf8')
  tail = (tail + text).slice(-4096)
  const lines = (partial + text).split('\n')
  partial = lines.pop() ?? ''
  for (const l of lines) if (/^\s*not ok /.test(l) && failures.length < 40) failures.push(l.replace(/ # time=.*$/, ''))
})
const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)))
await redis?.stop()

// tap's closing summary: "# { total: 56, pass: 55, fail: 1, skip: 1 }"
const line = /# \{ total: [^}]*\}/.exec(tail)?.[0] ?? ''
const count = (key: string): number => Number(new RegExp(`${key}: (\\d+)`).exec(line)?.[1] ?? 0)
const passed = count('pass')
// A run that crashed before its summary, or exited non-zero with no failed assertion, still failed.
const failed = count('fail') + (line === '' || (code !== 0 && count('fail') === 0) ? 1 : 0)
const skipped = count('skip') + count('todo')
for (const f of failures) console.log(`FAILED TEST: ${f.trim()}`)
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exitCode = failed > 0 ? 1 : 0
