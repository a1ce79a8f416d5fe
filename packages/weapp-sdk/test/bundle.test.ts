// The built file and the example mini-program as files: the committed copy is a fresh build, the bundle
// runs with nothing but `wx` and the timers (no require, no Node globals), and the example has the
// structure WeChat expects (app.json pages each with .json/.wxml/.wxss/.js, tabBar pages among them).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createContext, runInContext } from 'node:vm'
import t from 'tap'
import { bundle, OUTPUTS } from '../scripts/build.js'
import { EXAMPLE_DIR } from './fixtures/miniprogram.js'

const fresh = await bundle()

t.test('the example\'s committed utils/weapp-sdk.js equals a fresh build (run `pnpm --filter @weapp/weapp-sdk build`)', async (t) => {
  const committed = join(EXAMPLE_DIR, 'utils', 'weapp-sdk.js')
  t.ok(OUTPUTS.includes(committed), 'the build writes it')
  t.equal(readFileSync(committed, 'utf8'), fresh)
})

t.test('the bundle: one CommonJS file, ES2017, no require, runs with only wx and timers', async (t) => {
  t.notMatch(fresh, /\brequire\(/, 'no require() of anything')
  t.notMatch(fresh, /\?\?|\?\.[^\d]/, 'no ES2020 operators (?? ?.)')
  t.notMatch(fresh, /\bprocess\.|\bBuffer\b|\bglobalThis\b/, 'no Node globals')
  t.match(fresh, /module\.exports = /)
  const module = { exports: {} as Record<string, unknown> }
  const storage = new Map<string, unknown>()
  const wx = {
    getStorageSync: (k: string) => storage.get(k) ?? '',
    setStorageSync: (k: string, v: unknown) => { storage.set(k, v) },
    removeStorageSync: (k: string) => { storage.delete(k) }
  }
  // A context with only what a mini-program's logic layer has that the SDK may use.
  const context = createContext({ module, exports: module.exports, wx, setTimeout, clearTimeout, console })
  runInContext(fresh, context, { filename: 'weapp-sdk.js' })
  const sdk = module.exports as { createClient: (o: object) => { token: () => string | null }, VERSION: string, ApiError: unknown, backoffDelay: (a: number, o: object) => number }
  t.equal(sdk.VERSION, JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version)
  t.same(Object.keys(sdk).sort(), [
    'ApiError', 'Auth', 'CLOSE_CODES', 'DEFAULT_BACKOFF_BASE_MS', 'DEFAULT_BACKOFF_MAX_MS', 'DEFAULT_CONNECT_TIMEOUT_MS', 'DEFAULT_HEARTBEAT_INTERVAL_MS',
    'DEFAULT_HEARTBEAT_TIMEOUT_MS', 'DEFAULT_PATHS', 'DEFAULT_STORAGE_KEY', 'Emitter', 'ErrorCodes', 'LoginError', 'NetworkError',
    'RealtimeSocket', 'TokenStore', 'VERSION', 'WeappError', 'backoffDelay', 'createClient', 'createRequester', 'equalJitter',
    'fullJitter', 'isErrorBody', 'resolveUrl', 'rethrowLater'
  ])
  const client = sdk.createClient({ baseUrl: 'https://api.example.com' })
  t.equal(client.token(), null, 'a client is created on the global wx')
  t.equal(sdk.backoffDelay(2, { baseMs: 100, maxMs: 1000, jitter: (c: number) => c }), 400)
})

function filesUnder (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

t.test('the example follows the mini-program structure', async (t) => {
  const appJson = JSON.parse(readFileSync(join(EXAMPLE_DIR, 'app.json'), 'utf8'))
  t.ok(Array.isArray(appJson.pages) && appJson.pages.length >= 2)
  for (const page of appJson.pages as string[]) {
    for (const ext of ['json', 'wxml', 'wxss', 'js']) t.ok(existsSync(join(EXAMPLE_DIR, `${page}.${ext}`)), `${page}.${ext}`)
    JSON.parse(readFileSync(join(EXAMPLE_DIR, `${page}.json`), 'utf8'))
  }
  t.match(appJson.window, { navigationBarTitleText: String })
  t.ok(appJson.tabBar.list.length >= 2 && appJson.tabBar.list.length <= 5)
  for (const tab of appJson.tabBar.list) t.ok(appJson.pages.includes(tab.pagePath), `tab ${tab.pagePath as string} is a page`)
  t.match(appJson.networkTimeout, { request: Number, connectSocket: Number })
  for (const file of ['app.js', 'app.wxss', 'config.js', 'project.config.json', 'sitemap.json', 'README.md']) t.ok(existsSync(join(EXAMPLE_DIR, file)), file)
  t.match(readFileSync(join(EXAMPLE_DIR, 'pages', 'index', 'index.wxml'), 'utf8'), /<button[^>]*open-type="contact"/, 'a customer-service entry')
  t.match(readFileSync(join(EXAMPLE_DIR, 'pages', 'index', 'index.wxml'), 'utf8'), /open-type="chooseAvatar"/)
  t.match(readFileSync(join(EXAMPLE_DIR, 'pages', 'index', 'index.wxml'), 'utf8'), /type="nickname"/)

  // Plain JS that WeChat runs: CommonJS with relative requires, no Node, no TypeScript.
  for (const file of filesUnder(EXAMPLE_DIR).filter((f) => f.endsWith('.js') && !f.endsWith('weapp-sdk.js'))) {
    const source = readFileSync(file, 'utf8')
    const rel = relative(EXAMPLE_DIR, file)
    for (const [, spec] of source.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      t.match(spec, /^\.\.?\//, `${rel}: require('${spec!}') is relative`)
    }
    t.notMatch(source, /\bprocess\.|\bBuffer\b|\bimport\s|\bexport\s|:\s*(string|number|boolean)\b[,)]/, `${rel}: no Node globals, ESM or TypeScript`)
  }
})
