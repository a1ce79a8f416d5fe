// Hash routing and the typing throttle (src/router.ts, src/throttle.ts).
import t from 'tap'
import { inboxHref, parseRoute } from '../src/router.js'
import { Throttle } from '../src/throttle.js'

t.test('routes: #/inbox, #/inbox/<openid>, #/agents; anything else is the inbox', async (t) => {
  t.same(parseRoute('#/inbox'), { page: 'inbox', openid: null })
  t.same(parseRoute(''), { page: 'inbox', openid: null })
  t.same(parseRoute('#/agents'), { page: 'agents' })
  t.same(parseRoute(inboxHref('o-Ab/c=')), { page: 'inbox', openid: 'o-Ab/c=' })
  t.same(parseRoute('#/inbox/%E0%A4%A'), { page: 'inbox', openid: null }, 'a broken escape is no openid')
  t.same(parseRoute('#/nowhere'), { page: 'inbox', openid: null })
})

t.test('a throttle lets one action through per interval', async (t) => {
  const throttle = new Throttle(3000)
  t.ok(throttle.take(0))
  t.notOk(throttle.take(2999))
  t.ok(throttle.take(3000))
  throttle.reset()
  t.ok(throttle.take(3001), 'reset: the next one passes')
})
