import type { Test } from 'tap'
import { redisDescriptionOf, redisTopologyOf, type RedisTopologyEnv } from '@weapp/common'

/**
 * The Redis topology cases every service's config test runs against its own loader (each loads through
 * CommonEnv, so each must parse the topology once at load, refuse a bad one by name and never echo a
 * password). `load` is the service's loader with its other required variables filled in.
 */
export function redisTopologyConfigCases (t: Test, load: (env: Record<string, string>) => RedisTopologyEnv): void {
  const password = 'Zq8Yx7Wv6Ut5Sr4Qp3On2Ml1Kj0Ih9G'
  t.equal(redisTopologyOf(load({})), undefined, 'none: embedded')
  const sentinel = load({ REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2', REDIS_SENTINEL_NAME: 'main', REDIS_PASSWORD: password })
  t.same(redisTopologyOf(sentinel), { kind: 'sentinel', sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }], name: 'main', db: 0, tls: false, password })
  t.equal(redisTopologyOf(sentinel), redisTopologyOf(sentinel), 'the one parsed at load')
  t.notMatch(String(redisDescriptionOf(sentinel)), password, 'described without the password')
  const url = load({ REDIS_URL: `rediss+sentinel://:${password}@s1:26380,s2/main/1` })
  t.match(redisTopologyOf(url), { kind: 'sentinel', name: 'main', db: 1, tls: true, password })
  const cluster = load({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', REDIS_USERNAME: 'app', REDIS_PASSWORD: password, REDIS_TLS: 'true' })
  t.same(redisTopologyOf(cluster), { kind: 'cluster', nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }], username: 'app', password, tls: true })
  t.equal(redisDescriptionOf(cluster), 'cluster via n1:7000,n2:7001 (tls)')
  t.throws(() => load({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: 'n1:7000' }), { code: 'COMMON_CONFIG_INVALID', message: /REDIS_URL, REDIS_CLUSTER_NODES/ })
  t.throws(() => load({ REDIS_SENTINELS: 's1:26379' }), { message: /REDIS_SENTINEL_NAME/ })
  t.throws(() => load({ REDIS_CLUSTER_NODES: 'n1:99999' }), { message: /REDIS_CLUSTER_NODES has an entry that is not host:port/ })
  t.throws(() => load({ REDIS_URL: 'http://x' }), { message: /REDIS_URL must match/ })
  const weak = t.throws(() => load({ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_PASSWORD: 'change-me-please', REDIS_SENTINEL_PASSWORD: 'aaaaaaaaaaaaaaaa' })) as unknown as Error
  t.match(weak.message, /REDIS_PASSWORD is a placeholder/)
  t.match(weak.message, /REDIS_SENTINEL_PASSWORD has too little entropy/)
  t.notMatch(weak.message, 'change-me-please', 'never echoed')
}
