import { existsSync } from 'node:fs'
import { dirname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import { ConsoleNotBuiltError } from '../errors.js'

// The agent console's single-page app (packages/console, built by Vite into dist/: index.html and hashed
// files under assets/), served at /console/ with a strict Content Security Policy. Hash routing: the only
// page is index.html.

/** Every console response's policy: same-origin everything, no inline script or style, no framing. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
  "font-src 'self'; media-src 'self' data:; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

export const CONSOLE_SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin'
} as const

/** index.html (and the other unhashed files) is revalidated on every load, so a deploy shows at once. */
export const REVALIDATE = 'no-cache'
/** Vite's hashed files never change under their name. */
export const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * CONSOLE_DIR's default: packages/console/dist of the repository the gateway runs from, found by walking up
 * from this code (gateway/src/routes when run from source, gateway/dist when bundled, /app/dist in the image,
 * whose Dockerfile puts the build at /app/packages/console/dist); else under the working directory.
 */
export function defaultConsoleDir (from = dirname(fileURLToPath(import.meta.url))): string {
  for (let at = from; ; at = dirname(at)) {
    if (existsSync(join(at, 'packages', 'console'))) return join(at, 'packages', 'console', 'dist')
    if (dirname(at) === at) return resolve('packages', 'console', 'dist')
  }
}

export interface ConsoleStaticOptions {
  /** The build directory (CONSOLE_DIR). */
  dir: string
}

/**
 * `/console/` (index.html, no-cache; 503 GATEWAY_CONSOLE_NOT_BUILT while there is none), `/console`
 * redirected there, `/console/assets/*` immutable, every answer (errors included) with CONSOLE_SECURITY_HEADERS.
 * Files are served by @fastify/static (no dotfiles, no directory listings, no path outside the directory).
 * `/console/ws` is the console socket's route (routes/proxy.ts): an exact path wins over this wildcard.
 */
export default async function consoleStatic (app: FastifyInstance, opts: ConsoleStaticOptions): Promise<void> {
  const root = resolve(opts.dir)
  const assets = join(root, 'assets') + sep
  const index = join(root, 'index.html')
  if (!existsSync(index)) app.log.warn({ dir: root }, 'the agent console is not built (no index.html): /console/ answers 503 until it is (pnpm build)')

  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(CONSOLE_SECURITY_HEADERS)
    done()
  })

  await app.register(fastifyStatic, {
    root,
    prefix: '/console/',
    index: false,
    list: false,
    redirect: false,
    dotfiles: 'ignore',
    cacheControl: false,
    suppressWarning: true,
    setHeaders: (reply, path) => {
      reply.header('cache-control', path.startsWith(assets) ? IMMUTABLE : REVALIDATE)
    }
  })

  // With the router's ignoreTrailingSlash, `/console` arrives here too: sent on to `/console/`, where the
  // page's relative URLs resolve under /console/.
  app.get('/console/', { config: { metricsGroup: 'gateway' } }, async (request, reply) => {
    const url = request.url
    if (!url.startsWith('/console/')) {
      const q = url.indexOf('?')
      return await reply.redirect('/console/' + (q === -1 ? '' : url.slice(q)), 301)
    }
    // Looked for on each load (a stat): a console built after the gateway started is served without a restart.
    if (!existsSync(index)) throw new ConsoleNotBuiltError()
    return await reply.header('cache-control', REVALIDATE).sendFile('index.html')
  })
}
