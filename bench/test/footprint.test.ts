// `pnpm bench:footprint` end to end on small counts: `npm run start` timed, the stack started from the
// compiled code with the memory probe, logins and pushes through the gateway, the tutorial's server as the
// peer, and the table with a row per process. Numbers are not asserted (they depend on the machine).
import { spawn } from 'node:child_process'
import t from 'tap'

const root = new URL('../..', import.meta.url).pathname
// Two stacks, the peer and maybe a build: on a busy 2-core machine longer than the default 120 s per file.
t.setTimeout(300_000)

t.test('the bench runs and prints a row per process and for the peer', async (t) => {
  const child = spawn(`${root}node_modules/.bin/tsx`, ['bench/footprint.ts'], {
    cwd: root,
    env: { ...process.env, BENCH_LOGINS: '20', BENCH_PUSHES: '20', BENCH_SETTLE: '0', BENCH_IDLE: '1' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString('utf8') })
  const code = await new Promise((resolve) => child.on('close', resolve))
  t.equal(code, 0, out)
  const mb = '\\d+\\.\\d'
  const ratio = '\\d+\\.\\d\\d×'
  for (const name of ['wechat-sim', 'session', 'cs-messaging', 'realtime-ws', 'gateway', 'services \\+ gateway \\(4\\)', 'whole stack \\(5\\)']) {
    t.match(out, new RegExp(`^\\| ${name} \\| \\d+ \\| \\d+ \\| ${mb} \\| ${mb} \\| ${mb} \\| ${mb} \\| ${mb} \\| ${mb} \\| ${mb} \\| ${ratio} \\| ${ratio} \\| ${ratio} \\| ${ratio} \\| ${ratio} \\|$`, 'm'), `${name} row`)
  }
  t.match(out, new RegExp(`^\\| seed \\(tutorial\\) \\| \\d+ \\| \\d+ \\| ${mb} \\| ${mb} \\| ${mb} \\| ${mb} \\| ${mb} \\| – \\| ${mb} \\| 1 \\| 1 \\| 1 \\| 1 \\| 1 \\|$`, 'm'), 'peer row')
  t.match(out, /^goal idle RSS ≤ 80 MB per service process: 0 s after start (met|not met \(.+\)); after 1 s (met|not met \(.+\))$/m)
  t.match(out, /^idle private memory per service process: \d+\.\d–\d+\.\d MB \(the seed \d+\.\d MB\)$/m)
  t.match(out, /^goal stack ready ≤ 3000 ms from `npm run start`: \d+ ms, (met|not met)( \(including a build of .+\))?$/m)
})
