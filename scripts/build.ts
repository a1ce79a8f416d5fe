// The compiled tree: every package and service has its own dist/ (tsconfig.build.json, `tsc -b`).
// `ensureBuilt()` is what `pnpm start` and the test run call first, so what runs is always the current
// source compiled, as in production; checking is an mtime walk (a few ms), building is incremental.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
/** The workspace directories tsconfig.build.json compiles. */
export const BUILT_PACKAGES = ['packages/common', 'packages/wechat', 'packages/wechat-sim', 'services/session', 'services/cs-messaging', 'services/realtime-ws', 'gateway'] as const

function newestMtime (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** Packages whose dist/ is missing or older than a file of src/ or of their build settings. */
export function staleBuilds (): string[] {
  return BUILT_PACKAGES.filter((pkg) => {
    const info = join(root, pkg, 'dist', '.tsbuildinfo')
    if (!existsSync(info)) return true
    const built = statSync(info).mtimeMs
    const inputs = Math.max(newestMtime(join(root, pkg, 'src')), statSync(join(root, pkg, 'tsconfig.build.json')).mtimeMs, statSync(join(root, 'tsconfig.base.json')).mtimeMs)
    return inputs > built
  })
}

/**
 * Builds when a dist/ is stale. Type errors are printed, not fatal here: tsc still emits, so a developer
 * can run what they are editing (`pnpm typecheck` and `pnpm build` are where type errors fail).
 */
export function ensureBuilt (log: (line: string) => void = console.log): void {
  const stale = staleBuilds()
  if (stale.length === 0) return
  log(`building ${stale.join(', ')} (tsc -b tsconfig.build.json)`)
  const result = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-b', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' })
  if (result.status === 0) return
  const missing = BUILT_PACKAGES.filter((pkg) => !existsSync(join(root, pkg, 'dist', 'index.js')))
  if (result.error !== undefined || missing.length > 0) throw new Error(`the build failed:\n${result.stdout}${result.stderr}`)
  log(`the build reported type errors (running what it emitted):\n${result.stdout}${result.stderr}`)
}

// `tsx scripts/build.ts`: build if needed (pnpm build always runs tsc -b itself).
if (import.meta.url === `file://${process.argv[1]}`) ensureBuilt()
