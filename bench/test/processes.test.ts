// How the benches start servers: a compiled service as production runs it (plain node, source maps, its
// dist/server.js), a bench-own TypeScript server under tsx with workspace sources; the spawn-to-ready
// time; and the memory probe (gc-on-signal.js), which must load into plain node.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { builtServer } from '../lib/built.js'
import { heapUsedMb, rssMb } from '../lib/memory.js'
import { startProcess, stopAll } from '../lib/processes.js'
import { freePort } from '../../scripts/redis-server.js'

const argvOf = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '')
const probe = new URL('../lib/gc-on-signal.js', import.meta.url).href

t.test('a compiled service runs under plain node with source maps, and reports its heap through the probe', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-processes-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'memory.json')
  const entry = builtServer('packages/wechat-sim')
  t.match(entry, /\/packages\/wechat-sim\/dist\/server\.js$/)
  const sim = await startProcess('wechat-sim', entry, await freePort(), { BENCH_MEMORY_FILE: file }, '/healthz', ['--import', probe])
  t.teardown(() => stopAll([sim]))
  const argv = argvOf(sim.child.pid!)
  t.ok(argv.includes('--enable-source-maps'))
  t.equal(argv.at(-1), entry)
  t.notOk(argv.some((a) => a.includes('tsx')), 'no TypeScript loader')
  t.ok(sim.readyMs > 0 && sim.readyMs < 30_000, `ready in ${sim.readyMs} ms`)
  t.ok(sim.readyCpuMs > 0, `${sim.readyCpuMs} ms of CPU to get there`)
  t.ok(rssMb(sim.child.pid!) > 10)
  const used = await heapUsedMb(sim.child.pid!, file, { gc: false })
  const live = await heapUsedMb(sim.child.pid!, file, { gc: true })
  t.ok(used > 1 && live > 1, `heap used ${used} MB, live ${live} MB`)
  t.equal((await fetch(`${sim.url}/healthz`)).status, 200, 'still serving after the signals')
})

t.test('a bench-own TypeScript server runs under tsx with the workspace sources', async (t) => {
  const hello = await startProcess('hello', new URL('../hello-server.ts', import.meta.url).pathname, await freePort(), {}, '/')
  t.teardown(() => stopAll([hello]))
  const argv = argvOf(hello.child.pid!)
  t.ok(argv.includes('tsx'))
  t.equal((await fetch(`${hello.url}/`)).status, 200)
})
