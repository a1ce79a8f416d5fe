import t from 'tap'
import { RealTimeClock } from '@weapp/test-kit'
import { ADMIN, buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { GIF, JPEG, PNG, calls, knownUser, multipart, send, sendingEnv, startSim, upload, userMessaged, type FilePart } from './fixtures/sim.js'

const TYPING_PATH = '/cgi-bin/message/custom/business/typing'
const UPLOAD_PATH = '/cgi-bin/media/upload'

t.test('typing: WeChat\'s rules come back as typed errors', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock })
  const typing = async (touser: string, command: string): Promise<ReturnType<typeof callInternal>> =>
    await callInternal(app, { method: 'POST', url: '/api/cs/typing', identity: ADMIN, payload: { touser, command } })

  const openid = await userMessaged(app, sim, clock, 'hana')
  const shown = await typing(openid, 'Typing')
  t.equal(shown.statusCode, 204, shown.body)
  t.equal(shown.body, '')
  t.equal((await sim.control.sent({ openid })).typing, true, 'the user sees "typing…"')

  const again = await typing(openid, 'Typing')
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'WECHAT_TYPING_ALREADY_ACTIVE')
  t.match(again.json().message, /lasts 15 s/)

  t.equal((await typing(openid, 'CancelTyping')).statusCode, 204)
  t.equal((await sim.control.sent({ openid })).typing, false, 'hidden again')

  // A message sent clears it.
  t.equal((await typing(openid, 'Typing')).statusCode, 204)
  t.equal((await send(app, { touser: openid, msgtype: 'text', text: { content: 'here you go' } })).statusCode, 201)
  t.equal((await sim.control.sent({ openid })).typing, false, 'sending a message clears typing')

  // Nothing exchanged for more than 30 s: 45080.
  await sim.control.advanceClock(31_000)
  const late = await typing(openid, 'Typing')
  t.equal(late.statusCode, 409)
  t.equal(late.json().code, 'WECHAT_TYPING_NO_INTERACTION')
  t.match(late.json().message, /within the last 30 s/)

  // No window at all.
  const never = await typing(await knownUser(sim, 'ivan'), 'Typing')
  t.equal(never.json().code, 'WECHAT_TYPING_NO_INTERACTION')

  // A bad command never reaches WeChat.
  const before = await calls(sim, TYPING_PATH)
  const bad = await typing(openid, 'typing')
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'VALIDATION_FAILED')
  t.match(bad.json().message, /body\/command/)
  const extra = await callInternal(app, { method: 'POST', url: '/api/cs/typing', identity: ADMIN, payload: { touser: openid, command: 'Typing', businessid: 1 } })
  t.equal(extra.statusCode, 400)
  t.equal(await calls(sim, TYPING_PATH), before, 'not sent')

  const metrics = (await callInternal(app, { url: '/metrics' })).body
  t.match(metrics, /cs_typing_total\{command="Typing",result="ok"\} 2/)
  t.match(metrics, /cs_typing_total\{command="Typing",result="45081"\} 1/)
  t.match(metrics, /cs_typing_total\{command="Typing",result="45080"\} 2/)
})

t.test('media: upload then download gives the same bytes', async (t) => {
  const sim = await startSim(t)
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock: new RealTimeClock() })
  for (const [type, data, filename] of [['image/png', PNG, 'logo.png'], ['image/jpeg', JPEG, '照片.JPG'], ['image/gif', GIF, 'anim.gif']] as const) {
    const res = await upload(app, { data, contentType: type, filename })
    t.equal(res.statusCode, 201, `${type}: ${res.body}`)
    const { mediaId, createdAt, expiresAt } = res.json() as { mediaId: string, createdAt: string, expiresAt: string }
    t.match(mediaId, /^[A-Za-z0-9_-]+$/)
    t.equal(Date.parse(expiresAt) - Date.parse(createdAt), 3 * 86_400_000, 'lives three days')
    t.equal(res.headers.location, `/api/cs/media/${mediaId}`)

    const got = await callInternal(app, { url: `/api/cs/media/${mediaId}`, identity: ADMIN })
    t.equal(got.statusCode, 200)
    t.ok(got.rawPayload.equals(data), `${type}: the same bytes`)
    t.equal(got.headers['content-type'], type)
    t.equal(got.headers['content-length'], String(data.length))
    t.match(String(got.headers['content-disposition']), new RegExp(`^attachment; filename="${mediaId}\\.(png|jpg|gif)"$`))
    t.equal(got.headers['x-content-type-options'], 'nosniff')
  }
  // application/octet-stream (curl's default for unknown extensions) is accepted: the bytes decide.
  const generic = await upload(app, { data: PNG, contentType: 'application/octet-stream', filename: 'blob' })
  t.equal(generic.statusCode, 201)

  // A picture a user sent (not uploaded by us) can be fetched the same way.
  const { mediaId } = await sim.control.userMedia({ contentType: 'image/jpeg', data: JPEG })
  const theirs = await callInternal(app, { url: `/api/cs/media/${mediaId}`, identity: ADMIN })
  t.ok(theirs.rawPayload.equals(JPEG))

  const missing = await callInternal(app, { url: '/api/cs/media/NoSuchMedia_123', identity: ADMIN })
  t.equal(missing.statusCode, 404, 'WeChat\'s 40007 is a 404')
  t.equal(missing.json().code, 'CS_MEDIA_NOT_FOUND')
  t.match(missing.json().message, /NoSuchMedia_123 not found/)
  const malformed = await callInternal(app, { url: '/api/cs/media/..%2F..%2Fsecret', identity: ADMIN })
  t.equal(malformed.statusCode, 400)
})

t.test('media: bad uploads are refused before WeChat is called', async (t) => {
  const sim = await startSim(t)
  const app = await buildCs(t, { config: testConfig({ ...sendingEnv(sim), MEDIA_UPLOAD_MAX_BYTES: '2048' }), clock: new RealTimeClock() })
  const post = async (payload: Buffer | string | object, headers: Record<string, string> = {}): Promise<ReturnType<typeof callInternal>> =>
    await callInternal(app, { method: 'POST', url: '/api/cs/media', identity: ADMIN, payload, headers })
  const form = async (parts: FilePart[]): Promise<ReturnType<typeof callInternal>> => {
    const m = multipart(parts)
    return await post(m.payload, m.headers)
  }
  // Text fields next to the file are fine.
  const withFields = await form([{ name: 'note', data: 'for the menu' }, { name: 'media', filename: 'a.png', contentType: 'image/png', data: PNG }])
  t.equal(withFields.statusCode, 201, withFields.body)
  const cases: Array<{ name: string, res: Awaited<ReturnType<typeof callInternal>>, status: number, code: string }> = [
    { name: 'too large', res: await upload(app, { data: Buffer.concat([PNG, Buffer.alloc(4096)]) }), status: 413, code: 'CS_MEDIA_TOO_LARGE' },
    { name: 'not an image', res: await upload(app, { data: 'hello, not a picture', contentType: 'image/png' }), status: 415, code: 'CS_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'BMP (not accepted)', res: await upload(app, { data: Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]), contentType: 'image/bmp' }), status: 415, code: 'CS_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'declared type disagrees with the bytes', res: await upload(app, { data: PNG, contentType: 'image/gif' }), status: 415, code: 'CS_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'empty file', res: await upload(app, { data: Buffer.alloc(0) }), status: 400, code: 'CS_MEDIA_MISSING' },
    { name: 'wrong field name', res: await upload(app, { name: 'file', data: PNG }), status: 400, code: 'CS_MEDIA_MISSING' },
    { name: 'no file part', res: await form([{ name: 'note', data: 'hi' }]), status: 400, code: 'CS_MEDIA_MISSING' },
    { name: 'two files', res: await form([{ name: 'media', filename: 'a.png', contentType: 'image/png', data: PNG }, { name: 'media', filename: 'b.png', contentType: 'image/png', data: PNG }]), status: 400, code: 'CS_MEDIA_UPLOAD_INVALID' },
    { name: 'too many fields', res: await form(Array.from({ length: 12 }, (_, i) => ({ name: `f${i}`, data: 'x' }))), status: 400, code: 'CS_MEDIA_UPLOAD_INVALID' },
    { name: 'JSON instead of a form', res: await post({ media: 'x' }), status: 415, code: 'CS_MEDIA_NOT_MULTIPART' },
    { name: 'truncated form', res: await (async () => { const m = multipart([{ name: 'media', filename: 'a.png', contentType: 'image/png', data: PNG }]); return await post(m.payload.subarray(0, 60), m.headers) })(), status: 400, code: 'CS_MEDIA_UPLOAD_INVALID' }
  ]
  for (const c of cases) {
    t.equal(c.res.statusCode, c.status, `${c.name}: ${c.res.body}`)
    if (c.code !== '') t.equal(c.res.json().code, c.code, c.name)
  }
  t.equal(await calls(sim, UPLOAD_PATH), 1, 'only the acceptable upload reached WeChat')
  t.match((await callInternal(app, { url: '/metrics' })).body, /cs_media_total\{op="upload",result="refused"\} 10/)
})
