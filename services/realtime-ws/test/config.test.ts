import t from 'tap'
import { redisTopologyConfigCases } from '@weapp/test-kit'
import { loadRealtimeConfig } from '../src/config.js'

// A real-looking token: a repeated character is refused at boot (packages/common/src/secrets.ts).
const base = { INTERNAL_TOKEN: 'realtime-config-test-token-0123456789abcdef' }

t.test('Redis topology: one server, Sentinel or Cluster, parsed once at load; a bad one stops boot, named', async (t) => {
  redisTopologyConfigCases(t, (env) => loadRealtimeConfig({ ...base, ...env }))
})
