import Type from 'typebox'
import { busState, type Bus } from './bus.js'
import { redisState, type RedisClient } from './redis.js'

/** `/healthz` fields every service answers with (its own fields added beside them). */
export const HealthStatusSchema = Type.Union([Type.Literal('ok'), Type.Literal('degraded')])
export const HealthRedisSchema = Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down')]))
/** describeRedisTopology: `redis://host:port`, `sentinel <name> via …`, `cluster via …`; never a password. */
export const HealthRedisTopologySchema = Type.Optional(Type.String())

/**
 * The Redis part of a service's `/healthz`, the same everywhere: without a Redis topology just `ok`; with one,
 * `redis: up|down` and `status: degraded` while Redis or the bus subscriber is away (the process still
 * serves what does not need Redis, so it stays live).
 */
export function redisHealth (redis: RedisClient | null, bus: Bus): { status: 'ok' | 'degraded', redis?: 'up' | 'down' } {
  if (redis === null) return { status: 'ok' }
  const up = redisState(redis) === 'up' && busState(bus) === 'up'
  return up ? { status: 'ok', redis: 'up' } : { status: 'degraded', redis: 'down' }
}
