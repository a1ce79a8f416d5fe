import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CONSOLE_CSP, defaultConsoleDir } from '../src/routes/console-static.js'
import { startHarness } from './fixtures/gateway.js'

// The agent console's files at /console/ (routes/console-static.ts), from a build directory of our own.

const INDEX = '<!doctype html><html><head><script type="module" src="/console/assets/index-abc123.js"></script></head><body></body></html>'
const SCRIPT = 'console.log("console")'

function consoleBuild (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'weapp-console-dist-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  mkdirSync(join(dir, 'assets'))
  writeFileSync(join(dir, 'index.html'), INDEX)
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), SCRIPT)
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
  writeFileSync(join(dir, '.env'), 'SECRET=1')
  return dir
}

function hasSecurityHeaders (t: Test, headers: Record<string, string | string[] | undefined>, what: string): void {
  t.equal(headers['content-security-policy'], CONSOLE_CSP, `${what}: CSP`)
  t.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`)
  t.equal(headers['referrer-policy'], 'same-origin', `${what}: Referrer-Policy`)
}

t.test('index.html revalidated, hashed assets immutable, the CSP on every console answer', async (t) => {
  const dir = consoleBuild(t)
  const h = await startHarness({ env: { CONSOLE_DIR: dir } })
  t.teardown(h.close)

  const index = await h.call('/console/')
  t.equal(index.status, 200)
  t.equal(index.text, INDEX)
  t.match(index.headers['content-type'], /^text\/html/)
  t.equal(index.headers['cache-control'], 'no-cache')
  t.ok(index.headers.etag ?? index.headers['last-modified'], 'a validator to revalidate with')
  hasSecurityHeaders(t, index.headers, 'index')
  t.match(CONSOLE_CSP, /default-src 'none'; script-src 'self'; style-src 'self'; .*frame-ancestors 'none'$/)

  const asset = await h.call('/console/assets/index-abc123.js')
  t.equal(asset.status, 200)
  t.equal(asset.text, SCRIPT)
  t.match(asset.headers['content-type'], /javascript/)
  t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable')
  hasSecurityHeaders(t, asset.headers, 'asset')

  const icon = await h.call('/console/favicon.svg')
  t.equal(icon.status, 200)
  t.equal(icon.headers['cache-control'], 'no-cache', 'unhashed files are revalidated')

  const head = await h.call('/console/', { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.text, '')

  for (const path of ['/console/missing.js', '/console/assets/missing.js', '/console/.env', '/console/assets/', '/console/%2e%2e/package.json']) {
    const res = await h.rawCall(path)
    t.ok(res.status === 404 || res.status === 403 || res.status === 400, `${path}: ${res.status}`)
    t.notMatch(res.text, 'SECRET', `${path}: nothing outside the build's files`)
    hasSecurityHeaders(t, res.headers, path)
  }
  const dotdot = await h.rawCall('/console/../gateway/package.json')
  t.not(dotdot.status, 200, 'no way out of the directory')
})

t.test('/console redirects to /console/ (the query kept)', async (t) => {
  const h = await startHarness({ env: { CONSOLE_DIR: consoleBuild(t) } })
  t.teardown(h.close)
  const res = await h.call('/console')
  t.equal(res.status, 301)
  t.equal(res.headers.location, '/console/')
  const withQuery = await h.call('/console?x=1')
  t.equal(withQuery.headers.location, '/console/?x=1')
})

t.test('not built: /console/ is a 503 that says what to run; served once the build appears', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weapp-console-empty-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const h = await startHarness({ env: { CONSOLE_DIR: dir } })
  t.teardown(h.close)
  const res = await h.call('/console/')
  t.equal(res.status, 503)
  t.same(res.json(), {
    statusCode: 503,
    code: 'GATEWAY_CONSOLE_NOT_BUILT',
    error: 'Service Unavailable',
    message: 'The agent console is not built: run pnpm build (it writes packages/console/dist), or point CONSOLE_DIR at a build'
  })
  hasSecurityHeaders(t, res.headers, '503')
  writeFileSync(join(dir, 'index.html'), INDEX)
  t.equal((await h.call('/console/')).status, 200, 'no restart needed')

  const missingDir = await startHarness({ env: { CONSOLE_DIR: join(dir, 'nowhere') } })
  t.teardown(missingDir.close)
  t.equal((await missingDir.call('/console/')).json().code, 'GATEWAY_CONSOLE_NOT_BUILT', 'a directory that does not exist: the same')
})

t.test('CONSOLE_DIR defaults to this repository\'s packages/console/dist', async (t) => {
  t.equal(defaultConsoleDir(), join(new URL('../..', import.meta.url).pathname, 'packages', 'console', 'dist'))
  const image = mkdtempSync(join(tmpdir(), 'weapp-image-'))
  t.teardown(() => { rmSync(image, { recursive: true, force: true }) })
  mkdirSync(join(image, 'dist'))
  mkdirSync(join(image, 'packages', 'console', 'dist'), { recursive: true })
  t.equal(defaultConsoleDir(join(image, 'dist')), join(image, 'packages', 'console', 'dist'), 'the image\'s layout (/app/dist beside /app/packages/console/dist)')
})

t.test('API and socket routes are not console files: no CSP there, /console/ws is the socket route', async (t) => {
  const h = await startHarness({ env: { CONSOLE_DIR: consoleBuild(t) } })
  t.teardown(h.close)
  const api = await h.call('/api/console/me')
  t.equal(api.headers['content-security-policy'], undefined)
  const ws = await h.call('/console/ws')
  t.equal(ws.status, 401, 'the socket\'s route, with its agent check, not a file lookup')
  t.equal(ws.json().code, 'GATEWAY_AUTH_REQUIRED')
})
