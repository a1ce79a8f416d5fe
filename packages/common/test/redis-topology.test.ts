// Which Redis topology the environment names: the three forms, their auth and TLS, and the refusals.
import t from 'tap'
import { describeRedisTopology, parseHostList, redisTopologyFromEnv, topologyHasReplicas } from '../src/redis-topology.js'

t.test('nothing set: the embedded default', async (t) => {
  t.equal(redisTopologyFromEnv({}), undefined)
  t.equal(redisTopologyFromEnv({ REDIS_URL: '', REDIS_SENTINELS: '', REDIS_CLUSTER_NODES: '' }), undefined)
})

t.test('REDIS_URL: one server, redis:// or rediss://, handed over as it is', async (t) => {
  t.same(redisTopologyFromEnv({ REDIS_URL: 'redis://:pw@10.0.0.5:6380/2' }), { kind: 'standalone', url: 'redis://:pw@10.0.0.5:6380/2' })
  t.same(redisTopologyFromEnv({ REDIS_URL: 'rediss://cache.example:6379' }), { kind: 'standalone', url: 'rediss://cache.example:6379' })
  t.throws(() => redisTopologyFromEnv({ REDIS_URL: 'http://x' }), { code: 'COMMON_CONFIG_INVALID' })
})

t.test('a redis+sentinel:// URL: several sentinels, the master name, db, credentials, TLS', async (t) => {
  t.same(redisTopologyFromEnv({ REDIS_URL: 'redis+sentinel://app:s%40cret@s1:26380,s2,[::1]:26381/mymaster/3' }), {
    kind: 'sentinel',
    sentinels: [{ host: 's1', port: 26380 }, { host: 's2', port: 26379 }, { host: '::1', port: 26381 }],
    name: 'mymaster',
    db: 3,
    tls: false,
    username: 'app',
    password: 's@cret'
  })
  const tls = redisTopologyFromEnv({ REDIS_URL: 'rediss+sentinel://:pw@s1:26379/main', REDIS_SENTINEL_PASSWORD: 'sentinel-pw' })
  t.match(tls, { kind: 'sentinel', tls: true, password: 'pw', sentinelPassword: 'sentinel-pw', db: 0, name: 'main' })
  t.notOk(tls !== undefined && 'username' in tls, 'an empty user name is no user name')
  for (const bad of ['redis+sentinel://s1:26379', 'redis+sentinel://s1:26379/', 'redis+sentinel://s1:26379/m/x', 'redis+sentinel://s1:99999/m', 'redis+sentinel:///m']) {
    t.throws(() => redisTopologyFromEnv({ REDIS_URL: bad }), { code: 'COMMON_CONFIG_INVALID' }, bad)
  }
})

t.test('REDIS_SENTINELS + REDIS_SENTINEL_NAME, with REDIS_USERNAME/PASSWORD/TLS', async (t) => {
  t.same(redisTopologyFromEnv({ REDIS_SENTINELS: '127.0.0.1:26379, 127.0.0.1:26380', REDIS_SENTINEL_NAME: 'weapp', REDIS_PASSWORD: 'pw', REDIS_TLS: true }), {
    kind: 'sentinel',
    sentinels: [{ host: '127.0.0.1', port: 26379 }, { host: '127.0.0.1', port: 26380 }],
    name: 'weapp',
    db: 0,
    tls: true,
    password: 'pw'
  })
  t.throws(() => redisTopologyFromEnv({ REDIS_SENTINELS: '127.0.0.1:26379' }), { code: 'COMMON_CONFIG_INVALID', message: /REDIS_SENTINEL_NAME/ })
})

t.test('REDIS_CLUSTER_NODES: seed nodes, default port 6379', async (t) => {
  t.same(redisTopologyFromEnv({ REDIS_CLUSTER_NODES: 'n1:7000,n2', REDIS_USERNAME: 'svc', REDIS_PASSWORD: 'pw' }), {
    kind: 'cluster',
    nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 6379 }],
    tls: false,
    username: 'svc',
    password: 'pw'
  })
})

t.test('two topologies at once is an error naming both, never a guess', async (t) => {
  t.throws(() => redisTopologyFromEnv({ REDIS_URL: 'redis://a', REDIS_CLUSTER_NODES: 'n1:7000' }), { code: 'COMMON_CONFIG_INVALID', message: /REDIS_URL, REDIS_CLUSTER_NODES/ })
})

t.test('host lists: bad entries are refused without echoing more than a short piece', async (t) => {
  t.throws(() => parseHostList('X', ' , ', 1), { message: /at least one/ })
  t.throws(() => parseHostList('X', 'a:b', 1), { message: /not host:port/ })
  t.throws(() => parseHostList('X', 'a:0', 1), { message: /not host:port/ })
  const long = 'h'.repeat(500) + ':x'
  const err = t.throws(() => parseHostList('X', long, 1)) as Error
  t.ok(err.message.length < 200, 'the message quotes a short piece only')
})

t.test('describe: no password ever; replicas: sentinel and cluster, not one server', async (t) => {
  const topologies = [
    redisTopologyFromEnv({ REDIS_URL: 'redis://user:hunter2-secret@10.0.0.5:6380/1' }),
    redisTopologyFromEnv({ REDIS_URL: 'redis+sentinel://:hunter2-secret@s1/m' }),
    redisTopologyFromEnv({ REDIS_CLUSTER_NODES: '[::1]:7000', REDIS_PASSWORD: 'hunter2-secret', REDIS_TLS: true })
  ]
  t.same(topologies.map((x) => describeRedisTopology(x!)), ['redis://10.0.0.5:6380/1', 'sentinel m via s1:26379', 'cluster via [::1]:7000 (tls)'])
  t.same(topologies.map((x) => topologyHasReplicas(x!)), [false, true, false], 'only Sentinel is known to keep replicas')
})
