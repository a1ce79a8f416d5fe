/**
 * A fixed-window counter in Redis: INCR, start the window on the first hit, report what is left of it.
 * One round trip, atomic. Used by the login rate limit and the failed-authentication limit.
 * KEYS[1] the counter, ARGV[1] the window in ms; returns { count, ttl in ms }.
 */
export const INCR_WINDOW_LUA = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { current, ttl }`
