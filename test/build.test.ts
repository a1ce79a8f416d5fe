// The production build (scripts/build.ts): each process is one esbuild bundle that imports nothing but
// Node built-ins and the external MongoDB driver, and that only lazily; a stale bundle is rebuilt;
// production's node flags are one list (the Dockerfile's ENTRYPOINT says the same); an error thrown in
// bundled code shows its src/…ts line; an image's directory holds the bundle and the driver alone; the
// console's Vite build is current, CSP-clean and small.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { tmpdir } from 'node:os'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'
import t from 'tap'
import { BUNDLED, CONSOLE, consoleStale, ensureBuilt, EXTERNAL, PRODUCTION_NODE_FLAGS, staleBuilds } from '../scripts/build.js'
import { deployBundle } from '../scripts/deploy-bundle.js'

const root = new URL('..', import.meta.url).pathname
t.setTimeout(180_000)
t.equal(ensureBuilt().length, 0, 'every process bundles')

/** The module specifiers a bundle file imports, statically and through import(). */
function importsOf (file: string): { static: string[], dynamic: string[] } {
  const code = readFileSync(file, 'utf8')
  return {
    static: [...code.matchAll(/^import\s[^;]*?from\s*"([^"]+)"|^import\s*"([^"]+)"/gm)].map((m) => m[1] ?? m[2]!),
    dynamic: [...code.matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1]!)
  }
}

t.test('each bundle imports only Node built-ins, its own chunks and the external MongoDB driver, the driver lazily', async (t) => {
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)])
  for (const dir of BUNDLED) {
    const dist = join(root, dir, 'dist')
    const files = readdirSync(dist).filter((f) => f.endsWith('.js'))
    const foreign = new Set<string>()
    for (const file of files) {
      const { static: eager, dynamic } = importsOf(join(dist, file))
      for (const spec of [...eager, ...dynamic]) if (!builtins.has(spec) && !spec.startsWith('./') && !(EXTERNAL as readonly string[]).includes(spec)) foreign.add(spec)
      t.ok(existsSync(join(dist, `${file}.map`)), `${dir}/dist/${file} has a source map`)
      // Only our own code is mapped (scripts/trim-source-map.ts): Node keeps a decoded map for the process's life.
      const sources = (JSON.parse(readFileSync(join(dist, `${file}.map`), 'utf8')) as { sources: string[] }).sources
      t.notOk(sources.some((s) => s.includes('node_modules/')), `${dir}/dist/${file}.map maps no dependency`)
    }
    t.same([...foreign], [], `${dir}: nothing else left unbundled`)
    // The entry's static import graph (chunks included) never reaches the driver: it loads only with MONGO_URL.
    const eager = new Set<string>()
    const walk = (file: string): void => {
      for (const spec of importsOf(join(dist, file)).static) {
        if (spec.startsWith('./')) {
          if (!eager.has(spec)) { eager.add(spec); walk(spec.slice(2)) }
        } else eager.add(spec)
      }
    }
    walk('server.js')
    t.notOk(eager.has('mongodb'), `${dir}: mongodb is not loaded at start`)
  }
  const session = join(root, 'services/session/dist')
  t.ok(readdirSync(session).some((f) => f.endsWith('.js') && importsOf(join(session, f)).dynamic.includes('mongodb')), 'the session service imports the driver with import()')
})

t.test('a bundle older than one of its inputs is stale, and ensureBuilt rebuilds it', async (t) => {
  const entry = join(root, 'services/realtime-ws/dist/server.js')
  t.same(staleBuilds(), [], 'fresh after the build')
  const long = new Date(Date.now() - 3600_000 * 24 * 365 * 5)
  utimesSync(entry, long, long)
  t.ok(staleBuilds().includes('services/realtime-ws'), 'an input is newer than the bundle')
  t.same(ensureBuilt(() => {}), [])
  t.ok(statSync(entry).mtimeMs > long.getTime(), 'rebuilt')
  t.same(staleBuilds(), [])
})

t.test('the console is built by Vite: hashed assets under /console/assets/, nothing inline for the CSP, its JavaScript at most 80 KB gzip, rebuilt when stale', async (t) => {
  const dist = join(root, CONSOLE, 'dist')
  const html = readFileSync(join(dist, 'index.html'), 'utf8')
  const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])
  t.ok(scripts.length > 0 && scripts.every((tag) => /\ssrc="\/console\/assets\/[\w.-]+\.js"/.test(tag)), `every script is a file: ${scripts.join(' ')}`)
  t.notMatch(html, /<script\b[^>]*>[^<]+<\/script>/, 'no inline script')
  t.notMatch(html, /<style\b|\sstyle=/, 'no inline style')
  const js = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'))
  t.ok(js.length > 0)
  const gzipped = js.reduce((sum, f) => sum + gzipSync(readFileSync(join(dist, 'assets', f))).length, 0)
  t.ok(gzipped <= 80 * 1024, `the console's JavaScript is ${(gzipped / 1024).toFixed(1)} KB gzip (at most 80)`)

  const index = join(dist, 'index.html')
  const long = new Date(Date.now() - 3600_000 * 24 * 365 * 5)
  utimesSync(index, long, long)
  t.ok(consoleStale(), 'a source is newer than the build')
  t.ok(staleBuilds().includes(CONSOLE))
  t.same(ensureBuilt(() => {}), [])
  t.ok(statSync(join(dist, 'index.html')).mtimeMs > long.getTime(), 'rebuilt')
  t.notOk(consoleStale())
})

t.test("production's node flags: one list, the Dockerfile's ENTRYPOINT the same", async (t) => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1]
  t.same(JSON.parse(entrypoint ?? '[]'), ['node', ...PRODUCTION_NODE_FLAGS, 'dist/server.js'])
  t.ok(PRODUCTION_NODE_FLAGS.includes('--enable-source-maps'))
})

t.test('an error thrown in bundled code, run as production runs it, shows its src/…ts line; the deployed directory holds the bundle and the driver alone', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'deploy-bundle-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  const packages = deployBundle(join(root, 'services/session'), out)
  t.ok(packages.some((p) => p.startsWith('mongodb@')), packages.join(', '))
  t.notOk(packages.some((p) => /^(fastify|undici|ioredis|pino)@/.test(p)), 'bundled dependencies are not copied')
  t.same(deployBundle(join(root, 'gateway'), join(out, 'gateway')), [], 'the gateway needs no node_modules')
  t.notOk(existsSync(join(out, 'src')))
  // The driver cannot parse this port: MongoClient throws inside the session's repositories plugin, after
  // the lazy import() found the driver in the deployed node_modules (none above it in the temp directory).
  const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, 'dist/server.js'], {
    cwd: out,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      INTERNAL_TOKEN: randomBytes(32).toString('hex'),
      APP_ID: 'wx0123456789abcdef',
      APP_SECRET: randomBytes(16).toString('hex'),
      WECHAT_API_BASE: 'http://127.0.0.1:9',
      MONGO_URL: 'mongodb://127.0.0.1:99999/weapp',
      // Required with MONGO_URL (session_keys are stored encrypted).
      SESSION_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64')
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString('utf8') })
  child.stderr.on('data', (c: Buffer) => { output += c.toString('utf8') })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise((resolve) => child.on('exit', resolve))
  clearTimeout(timer)
  t.not(code, 0, 'the service does not start')
  // The map names sources relative to dist/: in an image, /app/src/…ts (the sources themselves are not there).
  t.match(output, new RegExp(`at repositoriesPlugin \\(${out}/src/plugins/repositories\\.ts:\\d+:\\d+\\)`), 'a frame in the TypeScript source')
  t.match(output, new RegExp(`${out}/node_modules/mongodb/`), 'the driver loaded from the deployed node_modules')
})
