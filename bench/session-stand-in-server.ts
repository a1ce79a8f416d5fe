// The proxy bench's upstream (bench/proxy.ts): the gateway tests' session stand-in (lib/stand-ins.ts) in a
// process of its own, knowing one bearer token. Env: PORT, INTERNAL_TOKEN, BENCH_BEARER.
import { startSessionStandIn } from './lib/stand-ins.js'

const standIn = await startSessionStandIn({
  internalToken: process.env.INTERNAL_TOKEN ?? '',
  credentials: [{ credential: { kind: 'bearer', token: process.env.BENCH_BEARER ?? '' } }],
  port: Number(process.env.PORT ?? 0)
})
process.on('SIGTERM', () => { void standIn.close().then(() => process.exit(0)) })
