import t from 'tap'
import { APP, OTHER_APP, advance, classicToken, makeSim, postJson } from './fixtures/sim.js'
import { GET_MEDIA, PNG, UPLOAD, multipart, upload } from './fixtures/cs.js'

const LONG = { tokenTtlSec: 10 * 86_400 }
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 7), Buffer.from([0xff, 0xd9])])

t.test('upload an image, get the same bytes back', async (t) => {
  const sim = await makeSim(t)
  const token = await classicToken(sim)
  const res = await upload(sim, token, { data: JPEG, filename: 'photo.jpg', type: 'image/jpeg' })
  t.match(res, { errcode: 0, errmsg: 'ok', type: 'image', media_id: /^[A-Za-z0-9_-]{64}$/, created_at: Math.floor(sim.simState.now() / 1000) })
  const got = await sim.inject(`${GET_MEDIA}?access_token=${token}&media_id=${res.media_id}`)
  t.equal(got.statusCode, 200)
  t.equal(got.headers['content-type'], 'image/jpeg')
  t.equal(got.headers['content-disposition'], `attachment; filename="${res.media_id}.jpg"`)
  t.ok(got.rawPayload.equals(JPEG), 'byte for byte')
  t.not((await upload(sim, token)).media_id, res.media_id, 'every upload is a new media_id')
})

t.test('the image type comes from the part, else from the filename', async (t) => {
  const sim = await makeSim(t)
  const token = await classicToken(sim)
  const curlLike = await upload(sim, token, { data: PNG, filename: 'x.PNG', type: 'application/octet-stream' })
  t.equal(curlLike.errcode, 0)
  t.equal((await sim.inject(`${GET_MEDIA}?access_token=${token}&media_id=${curlLike.media_id}`)).headers['content-type'], 'image/png')
  const noType = await upload(sim, token, { data: PNG, filename: 'x.gif' })
  t.equal(noType.errcode, 0)
  t.equal((await upload(sim, token, { data: Buffer.from('hello'), filename: 'notes.txt', type: 'text/plain' })).errcode, 40005)
  t.equal((await upload(sim, token, { data: Buffer.from('hello'), filename: 'clip', type: 'video/mp4' })).errcode, 40005)
})

t.test('upload errors', async (t) => {
  const sim = await makeSim(t, { mediaMaxBytes: 1000 })
  const token = await classicToken(sim)
  const voice = await upload(sim, token, { data: PNG, filename: 'a.png', type: 'image/png' }, 'voice')
  t.equal(voice.errcode, 40004, 'only type=image')
  t.match(voice.errmsg, /^invalid media type/)
  t.equal((await sim.inject({ method: 'POST', url: `${UPLOAD}?access_token=${token}`, ...(await multipart({ media: { data: PNG, filename: 'a.png' } })) })).json().errcode, 40004, 'type missing')
  t.equal((await sim.inject({ method: 'POST', url: `${UPLOAD}?access_token=${token}&type=image`, ...(await multipart({ file: { data: PNG, filename: 'a.png' } })) })).json().errcode, 41005, 'no part named media')
  t.equal((await sim.inject({ method: 'POST', url: `${UPLOAD}?access_token=${token}&type=image`, ...(await multipart({ media: 'just text' })) })).json().errcode, 41005, 'media is a text field')
  t.equal((await postJson(sim, `${UPLOAD}?access_token=${token}&type=image`, { media: 'x' })).errcode, 41005, 'JSON body')
  const broken = await sim.inject({ method: 'POST', url: `${UPLOAD}?access_token=${token}&type=image`, headers: { 'content-type': 'multipart/form-data; boundary=zzz' }, payload: 'not multipart at all' })
  t.equal(broken.json().errcode, 41005, 'unparseable form')
  t.equal((await upload(sim, token, { data: Buffer.alloc(0), filename: 'a.png', type: 'image/png' })).errcode, 40006, 'empty')
  t.equal((await upload(sim, token, { data: Buffer.alloc(1001), filename: 'a.png', type: 'image/png' })).errcode, 40006, 'over mediaMaxBytes')
  t.equal((await upload(sim, token, { data: Buffer.alloc(1000), filename: 'a.png', type: 'image/png' })).errcode, 0, 'exactly mediaMaxBytes')
  const huge = await sim.inject({ method: 'POST', url: `${UPLOAD}?access_token=${token}&type=image`, ...(await multipart({ media: { data: Buffer.alloc(200_000), filename: 'a.png', type: 'image/png' } })) })
  t.equal(huge.statusCode, 413, 'far past the limit the body is refused unread')
  const noToken = await sim.inject({ method: 'POST', url: `${UPLOAD}?type=image`, ...(await multipart({ media: { data: PNG, filename: 'a.png' } })) })
  t.equal(noToken.json().errcode, 41001)
})

t.test('get errors: unknown, other app, expired after three days', async (t) => {
  const sim = await makeSim(t, { ...LONG, apps: [APP, OTHER_APP] })
  const token = await classicToken(sim)
  const other = await classicToken(sim, OTHER_APP)
  const { media_id: mediaId } = await upload(sim, token)
  const get = async (tk: string, id?: string): Promise<{ statusCode: number, type: string, json: () => any }> => {
    const res = await sim.inject(`${GET_MEDIA}?access_token=${tk}${id === undefined ? '' : `&media_id=${id}`}`)
    return { statusCode: res.statusCode, type: String(res.headers['content-type']), json: () => res.json() }
  }
  const unknown = await get(token, 'nope')
  t.equal(unknown.statusCode, 200)
  t.match(unknown.type, /^application\/json/)
  t.match(unknown.json(), { errcode: 40007, errmsg: /^invalid media_id rid: / })
  t.equal((await get(token)).json().errcode, 40007, 'no media_id')
  t.equal((await get(other, mediaId)).json().errcode, 40007, 'another app\'s media')
  t.equal((await get('x'.repeat(10), mediaId)).json().errcode, 40014)
  await advance(sim, 3 * 86_400_000 - 1)
  t.equal((await get(token, mediaId)).statusCode, 200)
  t.match((await get(token, mediaId)).type, /^image\/png/, 'still there just before three days')
  await advance(sim, 1)
  t.equal((await get(token, mediaId)).json().errcode, 40007, 'expired')
})

t.test('pictures users sent, through /sim/media', async (t) => {
  const sim = await makeSim(t)
  const token = await classicToken(sim)
  const { mediaId, createdAt } = await postJson(sim, '/sim/media', { contentType: 'image/jpeg', data: JPEG.toString('base64') })
  t.equal(createdAt, Math.floor(sim.simState.now() / 1000))
  const got = await sim.inject(`${GET_MEDIA}?access_token=${token}&media_id=${mediaId}`)
  t.ok(got.rawPayload.equals(JPEG))
  const bad = await sim.inject({ method: 'POST', url: '/sim/media', payload: { contentType: 'text/plain', data: 'aGk=' } })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, /contentType/)
})
