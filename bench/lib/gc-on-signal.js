// Preloaded into bench server processes (`--import`) so the bench can read their V8 heap without any
// server code: SIGWINCH runs a full garbage collection, then writes process.memoryUsage() as JSON to
// BENCH_MEMORY_FILE (what is live; `beforeGc` holds the reading just before it); SIGURG writes it without
// collecting (what the process holds as it runs, undisturbed). Both signals are ignored by default and
// nothing else listens to them (the services' graceful shutdown takes SIGUSR2). Plain JavaScript, so it
// loads into the compiled services under plain `node` as well as under tsx; the GC flag is set at run time
// (same effect as --expose-gc).
import { renameSync, writeFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')

function write (reading) {
  const file = process.env.BENCH_MEMORY_FILE
  if (file === undefined) return
  // Written aside, then renamed: the bench never reads half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify(reading))
  renameSync(`${file}.tmp`, file)
}

process.on('SIGWINCH', () => {
  const beforeGc = process.memoryUsage()
  gc()
  write({ ...process.memoryUsage(), beforeGc })
})
process.on('SIGURG', () => write(process.memoryUsage()))
