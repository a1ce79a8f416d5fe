// The production build: each process (the simulator, the three services, the gateway) bundled by esbuild
// into its own `<dir>/dist/server.js`, with the workspace packages and every dependency inside, except
// the MongoDB driver (EXTERNAL: loaded only with MONGO_URL, from a lazy chunk). One file to load instead
// of about 900 cuts start-up CPU and memory (bench/README.md, footprint). The libraries are never compiled
// on their own: their package.json "exports" name their TypeScript sources, which esbuild, tsx and tap
// read directly, and `pnpm typecheck` is the type check. `ensureBuilt()` is what `pnpm start`, the tests
// and the benches call first, so what runs is always the current source bundled, as in production;
// checking is an mtime walk over the bundle's recorded inputs (a few ms).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildSync, type BuildOptions, type Metafile } from 'esbuild'
import { trimSourceMap } from './trim-source-map.js'

const root = new URL('..', import.meta.url).pathname
// By path, not import.meta.url: this code also runs bundled into the `pnpm start` launcher (.run/start.mjs).
const SELF = join(root, 'scripts', 'build.ts')
const TRIM = join(root, 'scripts', 'trim-source-map.ts')
/** The workspace directories with a server: each gets `dist/server.js` (+ chunks and source maps). */
export const BUNDLED = ['packages/wechat-sim', 'services/session', 'services/cs-messaging', 'services/realtime-ws', 'gateway'] as const
/** Left to node_modules at run time (the images install these alone): see the Dockerfile. */
export const EXTERNAL = ['mongodb'] as const
/**
 * How production runs a bundle: `node <these> dist/server.js` (the Dockerfile's ENTRYPOINT says the same,
 * test/build.test.ts holds them equal). Source maps: stack traces name src/…ts lines; Node parses a map
 * when its file loads (enabling them later maps nothing already loaded), which costs 0–4 MB and about
 * 0.1 s of CPU per process. The young generation: V8 lets each semi-space grow to 16 MB while the code
 * loads and keeps it until its memory reducer runs (30–110 s later); 2 MB keeps idle RSS about 16 MB lower
 * (bench/README.md, footprint, with the throughput it costs).
 */
export const PRODUCTION_NODE_FLAGS = ['--enable-source-maps', '--max-semi-space-size=2'] as const
/** The inputs of the last bundle (esbuild's metafile), to tell when it is stale. */
const INPUTS_FILE = '.inputs.json'
/**
 * The agent console: static files built by Vite (packages/console/dist, served by the gateway at /console/),
 * not a process. Stale when a file of these is newer than its dist/index.html.
 */
export const CONSOLE = 'packages/console'
const CONSOLE_INPUTS = ['src', 'index.html', 'vite.config.ts', 'package.json']

export function bundleOptions (dir: string): BuildOptions {
  return {
    absWorkingDir: root,
    entryPoints: { server: `${dir}/src/server.ts` },
    outdir: `${dir}/dist`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // A dynamic import() stays one: the MongoDB repositories (and the driver they import) load only when used.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    external: [...EXTERNAL],
    // CommonJS dependencies call require() for Node built-ins; an ES module has no require of its own.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    // Stack traces map to src/…ts lines; the sources themselves are not embedded (smaller maps, none shipped),
    // and the maps keep only our own code (trim-source-map.ts: the memory a decoded map holds).
    sourcemap: 'linked',
    sourcesContent: false,
    // Names stay: Fastify and avvio name plugins and hooks after their functions.
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning'
  }
}

/**
 * Bundles one process into a directory of its own, then swaps it in for dist/: other runs (tests, other
 * developers' `pnpm start`) may be reading or building the same tree at the same time, and never see a
 * half-written dist/. Chunk names carry a hash, so nothing of an earlier build (or of tsc's per-file
 * output) is left beside the new one.
 */
function bundle (dir: string): void {
  const dist = join(root, dir, 'dist')
  const fresh = `${dist}.building-${process.pid}`
  const old = `${dist}.old-${process.pid}`
  rmSync(fresh, { recursive: true, force: true })
  try {
    const result = buildSync({ ...bundleOptions(dir), outdir: fresh })
    for (const output of Object.keys((result.metafile as Metafile).outputs)) if (output.endsWith('.map')) trimSourceMap(join(root, output))
    writeFileSync(join(fresh, INPUTS_FILE), JSON.stringify(Object.keys((result.metafile as Metafile).inputs)))
    if (existsSync(dist)) renameSync(dist, old)
    renameSync(fresh, dist)
  } finally {
    rmSync(fresh, { recursive: true, force: true })
    rmSync(old, { recursive: true, force: true })
  }
}

/** The newest modification time under a path (a file, or a directory walked), 0 when it does not exist. */
function newestMtime (path: string): number {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs)
}

/** The console's build is missing or older than one of its sources. */
export function consoleStale (): boolean {
  const index = join(root, CONSOLE, 'dist', 'index.html')
  if (!existsSync(index)) return true
  const built = statSync(index).mtimeMs
  return CONSOLE_INPUTS.some((input) => newestMtime(join(root, CONSOLE, input)) > built)
}

/**
 * `vite build` of the console (a child process: this file is also bundled into the launcher, which must not
 * carry Vite), into a directory of its own swapped in for dist/ as `bundle` does, so a gateway serving the
 * console never sees half of a build. A failed build throws with Vite's output.
 */
function buildConsole (): void {
  const dir = join(root, CONSOLE)
  const dist = join(dir, 'dist')
  const fresh = `${dist}.building-${process.pid}`
  const old = `${dist}.old-${process.pid}`
  rmSync(fresh, { recursive: true, force: true })
  try {
    const vite = join(dir, 'node_modules', 'vite', 'bin', 'vite.js')
    const result = spawnSync(process.execPath, [vite, 'build', '--outDir', fresh, '--emptyOutDir', '--logLevel', 'warn'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    if (result.status !== 0) throw new Error(`vite build failed: ${(result.error?.message ?? '') + result.stderr + result.stdout}`)
    if (existsSync(dist)) renameSync(dist, old)
    renameSync(fresh, dist)
  } finally {
    rmSync(fresh, { recursive: true, force: true })
    rmSync(old, { recursive: true, force: true })
  }
}

/** Builds one workspace directory: a process's bundle, or the console. */
function buildOne (dir: string): void {
  if (dir === CONSOLE) buildConsole()
  else bundle(dir)
}

/**
 * Processes whose bundle is missing or older than one of its inputs (or than this build's settings), and
 * the console when its build is stale.
 */
export function staleBuilds (): string[] {
  return [...staleBundles(), ...(consoleStale() ? [CONSOLE] : [])]
}

function staleBundles (): string[] {
  const settings = Math.max(statSync(SELF).mtimeMs, statSync(TRIM).mtimeMs)
  return BUNDLED.filter((dir) => {
    const entry = join(root, dir, 'dist', 'server.js')
    const inputs = join(root, dir, 'dist', INPUTS_FILE)
    if (!existsSync(entry) || !existsSync(inputs)) return true
    const built = statSync(entry).mtimeMs
    if (settings > built) return true
    return (JSON.parse(readFileSync(inputs, 'utf8')) as string[]).some((file) => {
      const path = join(root, file)
      return !existsSync(path) || statSync(path).mtimeMs > built
    })
  })
}

/** Builds the given processes (all, and the console, by default). A bundling error (a missing import, bad syntax) throws. */
export function build (dirs: readonly string[] = [...BUNDLED, CONSOLE]): void {
  for (const dir of dirs) buildOne(dir)
}

/**
 * Bundles what is stale. esbuild does not type-check (`pnpm typecheck` does), so a developer can run what
 * they are editing. A process that does not bundle (an import that does not resolve, a syntax error) is
 * reported and its dist/ removed, so its old code never runs as if it were current; the others still
 * build, for tests that do not need it. Returns the processes that failed.
 */
export function ensureBuilt (log: (line: string) => void = console.log): string[] {
  const stale = staleBuilds()
  if (stale.length === 0) return []
  const bundles = stale.filter((dir) => dir !== CONSOLE)
  if (bundles.length > 0) log(`building ${bundles.join(', ')} (esbuild)`)
  if (stale.includes(CONSOLE)) log(`building ${CONSOLE} (vite)`)
  const failed: string[] = []
  for (const dir of stale) {
    try {
      buildOne(dir)
    } catch (err) {
      rmSync(join(root, dir, 'dist'), { recursive: true, force: true })
      log(`${dir} did not bundle (its dist/ is removed): ${(err as Error).message}`)
      failed.push(dir)
    }
  }
  return failed
}

// `pnpm build`: bundle everything; `tsx scripts/build.ts --stale`: only what changed.
if (process.argv[1] === SELF) {
  if (process.argv.includes('--stale')) ensureBuilt()
  else build()
}
