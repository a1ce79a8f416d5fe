// Memory of a server process as the footprint bench reads it: RSS from /proc, the V8 heap from the
// process itself through the preload gc-on-signal.js (a signal → process.memoryUsage() in a file).
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

const MB = 1024 * 1024

/** One `<field>: N kB` line of /proc/<pid>/status, in MB. */
function statusMb (pid: number, field: 'VmRSS' | 'RssAnon'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no ${field} for pid ${pid}`)
  return Number(m[1]) / 1024
}

/** Resident set size (VmRSS of /proc/<pid>/status) in MB (MiB, as ps and top count). */
export function rssMb (pid: number): number {
  return statusMb(pid, 'VmRSS')
}

/**
 * The process's own memory (RssAnon of /proc/<pid>/status) in MB: RSS without the file-backed pages, which
 * are mostly the node binary's code (about 36-45 MB), the same pages for every node process of the machine
 * (counted once by the kernel, once per process by RSS). What a second process really costs.
 */
export function privateMb (pid: number): number {
  return statusMb(pid, 'RssAnon')
}

/**
 * V8 heap used, in MB, of a process started with `--import bench/lib/gc-on-signal.js` and
 * BENCH_MEMORY_FILE=`file`: as it is (`gc: false`: the process is left undisturbed), or what stays live
 * after a full garbage collection (`gc: true`, which also shrinks the RSS: read that first).
 */
export async function heapUsedMb (pid: number, file: string, { gc }: { gc: boolean }, timeoutMs = 5000): Promise<number> {
  rmSync(file, { force: true })
  process.kill(pid, gc ? 'SIGWINCH' : 'SIGURG')
  const deadline = performance.now() + timeoutMs
  while (!existsSync(file)) {
    if (performance.now() > deadline) throw new Error(`pid ${pid} wrote no memory reading to ${file} within ${timeoutMs} ms (started without the gc-on-signal.js preload?)`)
    await sleep(5)
  }
  const m = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number }
  return m.heapUsed / MB
}
