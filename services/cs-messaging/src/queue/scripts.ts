import { redisScript } from '@weapp/common'

// Lua scripts of the Redis queue (run through ioredis script commands: defineRedisScripts). Each runs
// atomically inside Redis and touches only the keys it is given (KEYS). Scripts are not rolled back when a
// command fails halfway, so every script reads first, then performs the one write that can be refused
// for memory (XADD, SET, ZADD: "deny-oom"), and only then the writes that cannot be refused (XACK,
// XDEL, ZREM): a script either does everything or nothing.

/**
 * De-duplicate and enqueue in one step. KEYS[1] dedup key, KEYS[2] stream; ARGV[1] ttl s, ARGV[2] key,
 * ARGV[3] message JSON, ARGV[4] receivedAt, ARGV[5] '1' to rewrite a known key (PUSH_DURABILITY=replicated:
 * the WAIT after a duplicate then covers the first copy's write, which another connection made). Returns
 * the new entry id, or nil when the key is known. If the dedup SET is refused after the XADD, the entry is
 * deleted again and the error returned.
 */
export const ENQUEUE_ONCE = redisScript<string | null>({
  name: 'csQueueEnqueueOnce',
  numberOfKeys: 2,
  lua: `
local seen = redis.call('GET', KEYS[1])
if seen then
  if ARGV[5] == '1' then
    local rewritten = redis.pcall('SET', KEYS[1], seen, 'KEEPTTL')
    if type(rewritten) == 'table' and rewritten.err then return redis.error_reply(rewritten.err) end
  end
  return false
end
local id = redis.call('XADD', KEYS[2], '*', 'key', ARGV[2], 'msg', ARGV[3], 'at', ARGV[4], 'n', '0')
local ok = redis.pcall('SET', KEYS[1], id, 'EX', ARGV[1])
if type(ok) == 'table' and ok.err then
  redis.call('XDEL', KEYS[2], id)
  return redis.error_reply(ok.err)
end
return id`
})

/** KEYS[1] stream; ARGV[1] group, ARGV[2] id. Acknowledge and delete: the stream holds only unfinished work. */
export const ACK = redisScript<number>({
  name: 'csQueueAck',
  numberOfKeys: 1,
  lua: `
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return n`
})

/**
 * KEYS[1] stream, KEYS[2] retry zset; ARGV[1] group, ARGV[2] id, ARGV[3] due ms, ARGV[4] member JSON.
 * Only while the entry is still pending in the group (a second worker that also held it does nothing).
 */
export const RETRY = redisScript<0 | 1>({
  name: 'csQueueRetry',
  numberOfKeys: 2,
  lua: `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1`
})

/**
 * KEYS[1] stream, KEYS[2] dead-letter stream; ARGV[1] group, ARGV[2] id, ARGV[3] key, ARGV[4] message,
 * ARGV[5] receivedAt, ARGV[6] attempts, ARGV[7] error, ARGV[8] failedAt, ARGV[9] most dead letters kept
 * (the oldest beyond it are dropped by the XADD itself). Returns the dead-letter id or nil.
 */
export const DEAD_LETTER = redisScript<string | null>({
  name: 'csQueueDeadLetter',
  numberOfKeys: 2,
  lua: `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '=', ARGV[9], '*', 'key', ARGV[3], 'msg', ARGV[4], 'at', ARGV[5], 'n', ARGV[6], 'err', ARGV[7], 'failedAt', ARGV[8])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return id`
})

/**
 * KEYS[1] retry zset, KEYS[2] stream, KEYS[3] dead-letter stream; ARGV[1] now ms, ARGV[2] limit, ARGV[3]
 * failedAt, ARGV[4] most dead letters kept. Moves due retries into the stream; a member that cannot be
 * read is parked as a dead letter instead of blocking every later promotion.
 */
export const PROMOTE_DUE = redisScript<number>({
  name: 'csQueuePromoteDue',
  numberOfKeys: 3,
  lua: `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local ok, e = pcall(cjson.decode, member)
  if ok and type(e) == 'table' and type(e.key) == 'string' and type(e.msg) == 'string' and type(e.at) == 'string' and tonumber(e.n) then
    redis.call('XADD', KEYS[2], '*', 'key', e.key, 'msg', e.msg, 'at', e.at, 'n', tostring(e.n))
  else
    redis.call('XADD', KEYS[3], 'MAXLEN', '=', ARGV[4], '*', 'key', '', 'msg', member, 'at', '', 'n', '0', 'err', 'malformed retry entry', 'failedAt', ARGV[3])
  end
  redis.call('ZREM', KEYS[1], member)
end
return #due`
})

/** KEYS[1] stream, KEYS[2] dead-letter stream; ARGV[1] group, ARGV[2] id, ARGV[3] raw fields JSON, ARGV[4] failedAt, ARGV[5] most dead letters kept. */
export const PARK_MALFORMED = redisScript<number>({
  name: 'csQueueParkMalformed',
  numberOfKeys: 2,
  lua: `
redis.call('XADD', KEYS[2], 'MAXLEN', '=', ARGV[5], '*', 'key', '', 'msg', ARGV[3], 'at', '', 'n', '0', 'err', 'malformed queue entry', 'failedAt', ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1`
})

/** KEYS[1] dead-letter stream, KEYS[2] stream; ARGV[1] dead-letter id. Returns the new entry id or nil. */
export const REPLAY = redisScript<string | null>({
  name: 'csQueueReplay',
  numberOfKeys: 2,
  lua: `
local r = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #r == 0 then return false end
local f = r[1][2]
local h = {}
for i = 1, #f, 2 do h[f[i]] = f[i + 1] end
local id = redis.call('XADD', KEYS[2], '*', 'key', h.key, 'msg', h.msg, 'at', h.at, 'n', '0')
redis.call('XDEL', KEYS[1], ARGV[1])
return id`
})

/**
 * KEYS[1] dead-letter stream; ARGV[1] cutoff (ISO time), ARGV[2] most deletions in this call. Deletes
 * dead letters that failed before the cutoff, oldest first (the stream is in failure order; ISO times in
 * UTC compare as strings). Returns how many.
 */
export const TRIM_DEAD_LETTERS = redisScript<number>({
  name: 'csQueueTrimDeadLetters',
  numberOfKeys: 1,
  lua: `
local n = 0
local limit = tonumber(ARGV[2])
while n < limit do
  local r = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 100)
  if #r == 0 then return n end
  for _, e in ipairs(r) do
    local f = e[2]
    local failedAt = ''
    for i = 1, #f, 2 do if f[i] == 'failedAt' then failedAt = f[i + 1] end end
    if failedAt >= ARGV[1] or n >= limit then return n end
    redis.call('XDEL', KEYS[1], e[1])
    n = n + 1
  end
end
return n`
})

/**
 * KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids. Resets the idle time of the
 * entries still pending for this consumer (XCLAIM to itself, JUSTID: the delivery count is unchanged);
 * an entry another consumer took over, or one already settled, is left alone. Returns how many.
 */
export const TOUCH = redisScript<number>({
  name: 'csQueueTouch',
  numberOfKeys: 1,
  lua: `
local args = { 'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0 }
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #p == 1 then args[#args + 1] = ARGV[i] end
end
local n = #args - 5
if n == 0 then return 0 end
args[#args + 1] = 'JUSTID'
redis.call(unpack(args))
return n`
})

/** Every script of the queue, for defineRedisScripts. */
export const QUEUE_SCRIPTS = {
  enqueueOnce: ENQUEUE_ONCE,
  ack: ACK,
  retry: RETRY,
  deadLetter: DEAD_LETTER,
  promoteDue: PROMOTE_DUE,
  parkMalformed: PARK_MALFORMED,
  replay: REPLAY,
  trimDeadLetters: TRIM_DEAD_LETTERS,
  touch: TOUCH
}
