// `npx tsx bench/lib/cpu-profile-summary.ts <file.cpuprofile> [top=25]`: where a process's CPU went, from a
// V8 profile (`node --cpu-prof`, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' on a bench):
// the functions with the most self time, and the same summed by package (node_modules name, node
// internals, our sources), as shares of the sampled time. Idle and GC are listed as V8 names them.
import { readFileSync } from 'node:fs'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** The package a frame belongs to: the last node_modules name in its URL, `node:` internals, or the source file. */
function packageOf (url: string): string {
  if (url === '') return '(native / V8)'
  if (url.startsWith('node:')) return 'node internals'
  const nm = url.lastIndexOf('node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  return url.replace(/^file:\/\//, '').replace(/^.*\/(gateway|services|packages|bench)\//, '$1/')
}

export interface SelfTime { name: string, ms: number, share: number }

export function summarize (profile: CpuProfile): { totalMs: number, functions: SelfTime[], packages: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  profile.samples.forEach((id, i) => { selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)) })
  const functions = new Map<string, number>()
  const packages = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const file = url.replace(/^.*\//, '')
    const name = `${functionName === '' ? '(anonymous)' : functionName} ${file === '' ? '' : `${file}:${lineNumber + 1}`}`.trim()
    functions.set(name, (functions.get(name) ?? 0) + us)
    const pkg = packageOf(url)
    packages.set(pkg, (packages.get(pkg) ?? 0) + us)
    total += us
  }
  const ranked = (m: Map<string, number>): SelfTime[] => [...m]
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / Math.max(total, 1) }))
    .sort((a, b) => b.ms - a.ms)
  return { totalMs: total / 1000, functions: ranked(functions), packages: ranked(packages) }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, topArg] = process.argv.slice(2)
  if (file === undefined) {
    console.error('usage: cpu-profile-summary.ts <file.cpuprofile> [top]')
    process.exit(2)
  }
  const top = Number(topArg ?? 25)
  const { totalMs, functions, packages } = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile)
  const line = (t: SelfTime): string => `${(t.share * 100).toFixed(1).padStart(5)} %  ${t.ms.toFixed(0).padStart(7)} ms  ${t.name}`
  console.log(`${file}: ${totalMs.toFixed(0)} ms sampled`)
  console.log('top self time, by function:')
  for (const f of functions.slice(0, top)) console.log(line(f))
  console.log('by package:')
  for (const p of packages.slice(0, 15)) console.log(line(p))
}
