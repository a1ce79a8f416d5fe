// The benches run the services as production does: their compiled `<dir>/dist/server.js` under plain
// node (processes.ts). Before the first start, whatever changed is compiled: scripts/build.ts rebuilds a
// dist/ that is missing or older than its sources, the same check `pnpm start` and the tests make.
import { existsSync } from 'node:fs'
import { ensureBuilt } from '../../scripts/build.js'

const root = new URL('../..', import.meta.url).pathname
let checked = false

/** The compiled entry of a service, the gateway or the simulator (`services/session`, `gateway`…), built first when stale. */
export function builtServer (dir: string): string {
  if (!checked) {
    ensureBuilt()
    checked = true
  }
  const entry = `${root}${dir}/dist/server.js`
  if (!existsSync(entry)) throw new Error(`${dir}/dist/server.js is missing after the build: is ${dir} in tsconfig.build.json?`)
  return entry
}
