// What an image carries of one process (the Dockerfile runs this in its build stage):
//
//   tsx scripts/deploy-bundle.ts services/session /out
//
// writes /out/dist (the bundle, its chunks and source maps: scripts/build.ts), /out/package.json (only
// "type": "module", so node reads dist/*.js as ES modules) and /out/node_modules with the external packages
// the bundle imports (EXTERNAL: the MongoDB driver, for the services that use it) and what they depend on,
// copied flat at the versions pnpm-lock.yaml installed. Nothing else: every other dependency is inside
// the bundle.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { EXTERNAL } from './build.js'

interface Manifest {
  name: string
  version: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
}

/** The external packages a bundle imports (statically or through import()). */
export function importedExternals (dist: string): string[] {
  const code = readdirSync(dist).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dist, f), 'utf8')).join('\n')
  return EXTERNAL.filter((name) => code.includes(`from "${name}"`) || code.includes(`import("${name}")`))
}

/** Where Node would find package `name` from `dir`: the nearest node_modules/<name> up the tree. */
function findPackage (name: string, dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate)
    if (dirname(at) === at) return undefined
  }
}

/**
 * Copies `names` and their dependencies (installed optional and peer ones too) into `modules`, one
 * directory each. Two versions of one package cannot share a flat node_modules: that throws.
 */
export function copyPackages (names: readonly string[], from: string, modules: string): string[] {
  const copied = new Map<string, string>()
  const visit = (name: string, dir: string, required: boolean): void => {
    const real = findPackage(name, dir)
    if (real === undefined) {
      if (required) throw new Error(`${name} is not installed (needed from ${dir})`)
      return
    }
    const seen = copied.get(name)
    if (seen !== undefined) {
      if (seen !== real) throw new Error(`two versions of ${name} (${seen}, ${real}): a flat node_modules cannot hold both`)
      return
    }
    copied.set(name, real)
    cpSync(real, join(modules, name), { recursive: true, dereference: true })
    const manifest = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8')) as Manifest
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, real, true)
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) visit(dep, real, false)
    for (const dep of Object.keys(manifest.peerDependencies ?? {})) visit(dep, real, manifest.peerDependenciesMeta?.[dep]?.optional !== true)
  }
  for (const name of names) visit(name, from, true)
  return [...copied.keys()].map((name) => `${name}@${(JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')) as Manifest).version}`)
}

export function deployBundle (dir: string, out: string): string[] {
  const dist = join(dir, 'dist')
  if (!existsSync(join(dist, 'server.js'))) throw new Error(`${dist}/server.js is missing: run pnpm build first`)
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  cpSync(dist, join(out, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.inputs.json') })
  const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest
  writeFileSync(join(out, 'package.json'), `${JSON.stringify({ name, version, private: true, type: 'module' }, null, 2)}\n`)
  return copyPackages(importedExternals(dist), realpathSync(dir), join(out, 'node_modules'))
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [dir, out] = process.argv.slice(2)
  if (dir === undefined || out === undefined) throw new Error('usage: tsx scripts/deploy-bundle.ts <workspace directory> <output directory>')
  const packages = deployBundle(dir, out)
  console.log(`${dir} → ${out}: dist/ and ${packages.length === 0 ? 'no node_modules (all bundled)' : packages.join(', ')}`)
}
