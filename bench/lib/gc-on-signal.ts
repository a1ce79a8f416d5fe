// Preloaded into the Node server processes of `pnpm bench:ws` (`--import`): SIGWINCH runs a full garbage
// collection, then writes process.memoryUsage() as JSON to BENCH_MEMORY_FILE, so the memory bench can
// read RSS with and without the garbage of the handshakes, and the live JS heap. SIGWINCH because it is
// ignored by default and nothing else listens to it (the services' graceful shutdown takes SIGUSR2).
// The flag is set at run time (same effect as --expose-gc; no server code changes).
import { writeFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
process.on('SIGWINCH', () => {
  gc()
  const file = process.env.BENCH_MEMORY_FILE
  if (file !== undefined) writeFileSync(file, JSON.stringify(process.memoryUsage()))
})
