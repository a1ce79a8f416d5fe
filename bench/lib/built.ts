// The benches run the services as production does: their bundled `<dir>/dist/server.js` under plain
// node (processes.ts). Before the first start, whatever changed is bundled: scripts/build.ts rebuilds a
// bundle that is missing or older than its inputs, the same check `pnpm start` and the tests make.
import { existsSync } from 'node:fs'
import { ensureBuilt } from '../../scripts/build.js'

const root = new URL('../..', import.meta.url).pathname
let checked = false

/** The bundled entry of a service, the gateway or the simulator (`services/session`, `gateway`…), built first when stale. */
export function builtServer (dir: string): string {
  if (!checked) {
    const failed = ensureBuilt()
    if (failed.length > 0) throw new Error(`could not bundle ${failed.join(', ')} (above)`)
    checked = true
  }
  const entry = `${root}${dir}/dist/server.js`
  if (!existsSync(entry)) throw new Error(`${dir}/dist/server.js is missing after the build: is ${dir} in BUNDLED (scripts/build.ts)?`)
  return entry
}
