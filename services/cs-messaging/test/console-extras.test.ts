import { randomBytes } from 'node:crypto'
import t from 'tap'
import { BusChannels, type BusEvent } from '@weapp/common'
import { RealTimeClock, waitFor } from '@weapp/test-kit'
import { ADMIN, buildCs, callInternal, testConfig, busSubscribed } from './fixtures/harness.js'
import { BACKENDS } from './fixtures/backends.js'
import { ANA, BEN, consoleCall } from './fixtures/console-agents.js'
import { PNG, sendingEnv, startSim } from './fixtures/sim.js'
import { consoleUpload } from './fixtures/console-media.js'

const OPENID = `oUser_notes_${randomBytes(6).toString('hex')}`

for (const backend of BACKENDS) {
  t.test(`${backend.name}: notes are stored, listed newest first and published on the console channel`, { skip: backend.skip }, async (t) => {
    const app = await buildCs(t, { config: testConfig(backend.env(t)), clock: new RealTimeClock() })
    // The channel is shared by every test file on this Redis: only this test's notes count.
    const events: BusEvent[] = []
    await app.bus.subscribe(BusChannels.console, (e) => {
      if (e.type === 'console.event' && e.event.type === 'note' && e.event.note.openid === OPENID) events.push(e)
    })
    await busSubscribed(app, BusChannels.console)

    const first = await consoleCall(app, 'POST', `/conversations/${OPENID}/notes`, { text: 'VIP: answer within the hour' })
    t.equal(first.statusCode, 201, first.body)
    const note = first.json()
    t.match(note, { id: /^[0-9a-f-]{36}$/, openid: OPENID, text: 'VIP: answer within the hour', author: { agentId: ANA.agentId, displayName: 'Ana' } })
    t.ok(Date.parse(note.createdAt) > 0)
    const second = (await consoleCall(app, 'POST', `/conversations/${OPENID}/notes`, { text: '已退款 ✓' }, BEN)).json()
    t.same(second.author, { agentId: BEN.agentId, displayName: 'Ben' }, 'the author is the agent who wrote it')

    await waitFor(() => events.length === 2, { timeoutMs: 10_000, what: 'two note events' })
    t.same(events, [
      { type: 'console.event', event: { type: 'note', note } },
      { type: 'console.event', event: { type: 'note', note: second } }
    ], 'each note published once, as stored')

    const list = await consoleCall(app, 'GET', `/conversations/${OPENID}/notes`)
    t.equal(list.statusCode, 200)
    t.same(list.json().items.map((n: { id: string }) => n.id).sort(), [note.id, second.id].sort())
    t.ok(Date.parse(list.json().items[0].createdAt) >= Date.parse(list.json().items[1].createdAt), 'newest first')
    t.equal((await consoleCall(app, 'GET', `/conversations/${OPENID}/notes?limit=1`)).json().items.length, 1)
    t.same((await consoleCall(app, 'GET', '/conversations/oSomeoneElse/notes')).json(), { items: [] })

    // Bad input: 400, nothing stored, nothing published.
    for (const [name, path, body] of [
      ['empty text', `/conversations/${OPENID}/notes`, { text: '' }],
      ['too long', `/conversations/${OPENID}/notes`, { text: 'x'.repeat(2001) }],
      ['not a string', `/conversations/${OPENID}/notes`, { text: 42 }],
      ['unknown field', `/conversations/${OPENID}/notes`, { text: 'hi', to: 'wechat' }],
      ['bad openid', '/conversations/bad%20id/notes', { text: 'hi' }]
    ] as const) {
      const res = await consoleCall(app, 'POST', path, body)
      t.equal(res.statusCode, 400, `${name}: ${res.body}`)
      t.equal(res.json().code, 'VALIDATION_FAILED', name)
    }
    t.equal((await consoleCall(app, 'GET', `/conversations/${OPENID}/notes?limit=101`)).statusCode, 400, 'limit at most 100')
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal((await consoleCall(app, 'GET', `/conversations/${OPENID}/notes`)).json().items.length, 2, 'nothing stored')
    t.equal(events.length, 2, 'nothing published')
  })
}

t.test('console routes: agents only', async (t) => {
  const app = await buildCs(t, { config: testConfig(), clock: new RealTimeClock() })
  for (const [method, path] of [['GET', '/canned'], ['POST', '/canned'], ['GET', '/card-templates'], ['POST', `/conversations/${OPENID}/notes`], ['POST', '/media'], ['GET', '/media/abc']] as const) {
    const none = await callInternal(app, { method, url: `/api/console${path}`, ...(method === 'POST' ? { payload: { text: 'x' } } : {}) })
    t.equal(none.statusCode, 401, `${method} ${path} without an identity`)
    const admin = await consoleCall(app, method, path, method === 'POST' ? { text: 'x' } : undefined, ADMIN)
    t.equal(admin.statusCode, 403, `${method} ${path}: an admin key is not an agent`)
    t.equal(admin.json().code, 'COMMON_FORBIDDEN')
  }
})

t.test('canned replies: unique shortcut, listed by shortcut, deleted; bad input changes nothing', async (t) => {
  const app = await buildCs(t, { config: testConfig(), clock: new RealTimeClock() })
  const hi = await consoleCall(app, 'POST', '/canned', { shortcut: 'hi', text: 'Hello! How can I help?' })
  t.equal(hi.statusCode, 201, hi.body)
  t.match(hi.json(), { id: /^[0-9a-f-]{36}$/, shortcut: 'hi', text: 'Hello! How can I help?' })
  t.equal((await consoleCall(app, 'POST', '/canned', { shortcut: 'addr_2', text: '1 Main St' }, BEN)).statusCode, 201)

  const taken = await consoleCall(app, 'POST', '/canned', { shortcut: 'hi', text: 'another' }, BEN)
  t.equal(taken.statusCode, 409)
  t.equal(taken.json().code, 'CS_CONSOLE_DUPLICATE')
  t.match(taken.json().message, /"hi"/)
  for (const [name, body] of [
    ['upper case', { shortcut: 'Hi', text: 'x' }],
    ['space', { shortcut: 'h i', text: 'x' }],
    ['too long a shortcut', { shortcut: 'x'.repeat(33), text: 'x' }],
    ['empty text', { shortcut: 'ok', text: '' }],
    ['too long a text', { shortcut: 'ok', text: 'x'.repeat(2049) }],
    ['missing text', { shortcut: 'ok' }]
  ] as const) {
    const res = await consoleCall(app, 'POST', '/canned', body)
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, 'VALIDATION_FAILED', name)
  }
  const list = await consoleCall(app, 'GET', '/canned')
  t.same(list.json().items.map((r: { shortcut: string }) => r.shortcut), ['addr_2', 'hi'], 'by shortcut; the refused ones are not there')

  const del = await consoleCall(app, 'DELETE', `/canned/${hi.json().id as string}`)
  t.equal(del.statusCode, 204)
  const again = await consoleCall(app, 'DELETE', `/canned/${hi.json().id as string}`)
  t.equal(again.statusCode, 404)
  t.equal(again.json().code, 'CS_CONSOLE_NOT_FOUND')
  t.same((await consoleCall(app, 'GET', '/canned')).json().items.map((r: { shortcut: string }) => r.shortcut), ['addr_2'])
  t.equal((await consoleCall(app, 'POST', '/canned', { shortcut: 'hi', text: 'back' })).statusCode, 201, 'the shortcut is free again')
})

t.test('canned replies: at most 500 (409 CS_CONSOLE_LIMIT)', async (t) => {
  const app = await buildCs(t, { config: testConfig(), clock: new RealTimeClock() })
  for (let i = 0; i < 500; i++) await app.cannedRepliesRepository.add({ shortcut: `s${i}`, text: 'x' })
  const res = await consoleCall(app, 'POST', '/canned', { shortcut: 'one_more', text: 'x' })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'CS_CONSOLE_LIMIT')
  t.equal((await consoleCall(app, 'GET', '/canned')).json().items.length, 500)
})

t.test('card templates: saved with a console image, listed, deleted; a missing field is CS_CONSOLE_CARD_INVALID', async (t) => {
  const sim = await startSim(t)
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock: new RealTimeClock() })
  const thumb = await consoleUpload(app, { data: PNG })
  t.equal(thumb.statusCode, 201, thumb.body)
  const thumbMediaId = thumb.json().mediaId as string
  const card = { name: 'Menu', title: 'Our menu', pagepath: 'pages/menu/index?from=cs', thumbMediaId }

  const saved = await consoleCall(app, 'POST', '/card-templates', card)
  t.equal(saved.statusCode, 201, saved.body)
  t.match(saved.json(), { id: /^[0-9a-f-]{36}$/, ...card })

  for (const field of ['name', 'title', 'pagepath', 'thumbMediaId'] as const) {
    const { [field]: _, ...missing } = card
    const res = await consoleCall(app, 'POST', '/card-templates', missing)
    t.equal(res.statusCode, 400, `${field} missing`)
    t.equal(res.json().code, 'CS_CONSOLE_CARD_INVALID', `${field} missing`)
    t.match(res.json().message, new RegExp(`^The card is incomplete: ${field} is missing`))
    const empty = await consoleCall(app, 'POST', '/card-templates', { ...card, [field]: field === 'name' || field === 'title' ? '  ' : '' })
    t.equal(empty.json().code, 'CS_CONSOLE_CARD_INVALID', `${field} empty`)
  }
  const notOurs = await consoleCall(app, 'POST', '/card-templates', { ...card, thumbMediaId: 'SomeoneElsesMedia_1' })
  t.equal(notOurs.statusCode, 400)
  t.equal(notOurs.json().code, 'CS_CONSOLE_CARD_INVALID')
  t.match(notOurs.json().message, /POST \/api\/console\/media/)
  for (const [name, body] of [
    ['too long a name', { ...card, name: 'x'.repeat(65) }],
    ['too long a title', { ...card, title: 'x'.repeat(65) }],
    ['too long a pagepath', { ...card, pagepath: 'p'.repeat(513) }],
    ['pagepath with a space', { ...card, pagepath: 'pages/a b' }],
    ['unknown field', { ...card, appid: 'wx1' }]
  ] as const) {
    const res = await consoleCall(app, 'POST', '/card-templates', body)
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, 'VALIDATION_FAILED', name)
  }
  const list = await consoleCall(app, 'GET', '/card-templates')
  t.same(list.json().items, [saved.json()], 'only the valid one was stored')

  t.equal((await consoleCall(app, 'DELETE', `/card-templates/${saved.json().id as string}`)).statusCode, 204)
  const gone = await consoleCall(app, 'DELETE', `/card-templates/${saved.json().id as string}`)
  t.equal(gone.statusCode, 404)
  t.equal(gone.json().code, 'CS_CONSOLE_NOT_FOUND')
  t.same((await consoleCall(app, 'GET', '/card-templates')).json().items, [])
})
