// The pure pieces of `pnpm bench:console`: the percentiles and goal verdicts of its table, the latency pairing
// of pushes with what a page showed, and the mark finder the page's observer runs (the same source).
import t from 'tap'
import { FIRST_LOAD_GLOBAL, SEEN_GLOBAL, firstLoadScript, marksIn, observerScript } from '../lib/console-observer.js'
import { bucketsBetween, histogramBuckets, latencies, ms, percentile, summarize, verdict } from '../lib/console-stats.js'

t.test('percentile: nearest rank, whatever the order; NaN for nothing; a bad quantile throws', async (t) => {
  const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]
  t.equal(percentile(values, 0.5), 5)
  t.equal(percentile(values, 0.95), 10)
  t.equal(percentile(values, 0), 1)
  t.equal(percentile(values, 1), 10)
  t.equal(percentile(Array.from({ length: 1000 }, (_, i) => 1000 - i), 0.99), 990)
  t.ok(Number.isNaN(percentile([], 0.5)))
  t.throws(() => percentile(values, 1.5), /quantile/)
  t.same(values, [5, 1, 4, 2, 3, 10, 9, 8, 7, 6], 'the input is left as it was')
  t.same(summarize([3, 1, 2]), { count: 3, p50: 2, p95: 3, p99: 3, max: 3 })
  t.equal(summarize([]).count, 0)
})

t.test('latencies: page time minus answer time per mark; marks never shown are missing, not latencies', async (t) => {
  const acked = new Map([['cb1-1', 1000], ['cb1-2', 1010], ['cb1-3', 1020]])
  const { values, missing } = latencies(acked, { 'cb1-1': 1040, 'cb1-3': 1019.5, 'cb1-9': 5 })
  t.same(values, [40, -0.5])
  t.equal(missing, 1)
})

t.test('verdict and ms: PASS within the goal, MISS above it or when nothing was measured', async (t) => {
  t.equal(verdict(250, 250), 'PASS')
  t.equal(verdict(250.1, 250), 'MISS')
  t.equal(verdict(Number.NaN, 250), 'MISS')
  t.equal(ms(3.14159), '3.1')
  t.equal(ms(123.6), '124')
  t.equal(ms(Number.NaN), '–')
})

t.test('marksIn: every distinct prefix + digits, in order; a prefix without digits is no mark', async (t) => {
  t.same(marksIn('cbab12-17 where is my order?', 'cbab12-'), ['cbab12-17'])
  t.same(marksIn('cbab12-1 cbab12-10 cbab12-1x cbab12-', 'cbab12-'), ['cbab12-1', 'cbab12-10'], 'digits end a mark; repeats once')
  t.same(marksIn('{"preview":"cbab12-5 hi","Content":"cbab12-5 hi","x":"cbab12-6"}', 'cbab12-'), ['cbab12-5', 'cbab12-6'], 'in a socket frame')
  t.same(marksIn('nothing here', 'cbab12-'), [])
  t.same(marksIn('', 'cbab12-'), [])
  t.same(marksIn(null as unknown as string, 'cbab12-'), [], 'a node without text')
})

t.test('the init scripts are plain JavaScript that parses, name their globals, and refuse an unfit prefix', async (t) => {
  const script = observerScript('cbab12-')
  // eslint-disable-next-line no-new-func
  t.doesNotThrow(() => new Function(script), 'parses')
  t.match(script, SEEN_GLOBAL)
  t.notMatch(script, /__name/, 'no helper of the TypeScript runner')
  t.throws(() => observerScript('a"b'), /unfit mark prefix/)
  // eslint-disable-next-line no-new-func
  t.doesNotThrow(() => new Function(firstLoadScript()))
  t.match(firstLoadScript(), FIRST_LOAD_GLOBAL)
})

t.test('histogramBuckets and bucketsBetween: a histogram\'s buckets summed over labels, the observations between two scrapes', async (t) => {
  const scrape = (fast: number, slow: number): string => [
    '# HELP cs_push_ack_seconds Time to answer a WeChat push, by outcome',
    `cs_push_ack_seconds_bucket{le="0.01",outcome="queued"} ${fast}`,
    `cs_push_ack_seconds_bucket{le="1",outcome="queued"} ${fast + slow}`,
    `cs_push_ack_seconds_bucket{le="+Inf",outcome="queued"} ${fast + slow + 1}`,
    'cs_push_ack_seconds_bucket{le="0.01",outcome="duplicate"} 2',
    'cs_push_ack_seconds_bucket{le="1",outcome="duplicate"} 2',
    'cs_push_ack_seconds_bucket{le="+Inf",outcome="duplicate"} 2',
    `cs_push_ack_seconds_sum{outcome="queued"} ${fast}`,
    'cs_pushes_total{mode="safe"} 9'
  ].join('\n')
  const before = histogramBuckets(scrape(10, 1), 'cs_push_ack_seconds')
  t.same([...before], [['0.01', 12], ['1', 13], ['+Inf', 14]], 'summed over outcomes; _sum and other metrics ignored')
  const after = histogramBuckets(scrape(100, 5), 'cs_push_ack_seconds')
  t.equal(bucketsBetween(before, after, ['0.01', '1']), '≤ 0.01 s 90, ≤ 1 s 94, > 1 s 0 (of 94)')
  t.same([...histogramBuckets('', 'cs_push_ack_seconds')], [])
})
