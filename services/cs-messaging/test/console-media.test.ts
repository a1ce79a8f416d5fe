import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { OutboundMessage } from '@weapp/common'
import { RealTimeClock, type Teardown, type TestClock } from '@weapp/test-kit'
import { buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { GIF, JPEG, PNG, SEND_PATH, calls, multipart, sendingEnv, startSim, userMessaged, type Sim } from './fixtures/sim.js'
import { ANA, consoleCall } from './fixtures/console-agents.js'
import { consoleUpload } from './fixtures/console-media.js'
import type { MemoryConsoleMediaRepository } from '../src/repositories/console-media.js'

const UPLOAD_PATH = '/cgi-bin/media/upload'
const GET_PATH = '/cgi-bin/media/get'
const THREE_DAYS = 3 * 86_400_000

async function setup (t: Teardown, env: Record<string, string> = {}): Promise<{ sim: Sim, app: FastifyInstance, clock: TestClock }> {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig({ ...sendingEnv(sim), ...env }), clock })
  return { sim, app, clock }
}

/** A console send as the console's POST …/messages makes it: through the media cache, then the checked send path. */
async function consoleSend (app: FastifyInstance, openid: string, message: OutboundMessage): Promise<{ id: string }> {
  return await app.consoleMedia.sendWithFreshMedia(message, async (m) => await app.outboundService.send({ openid, message: m, force: false, sentBy: `agent:${ANA.agentId}` }))
}

t.test('console upload: the same image is uploaded to WeChat once within its three days', async (t) => {
  const { sim, app } = await setup(t)
  const first = await consoleUpload(app, { data: PNG })
  t.equal(first.statusCode, 201, first.body)
  const { mediaId, expiresAt } = first.json()
  t.match(mediaId, /^[A-Za-z0-9_-]+$/)
  t.ok(Math.abs(Date.parse(expiresAt) - Date.now() - THREE_DAYS) < 60_000, 'expires in three days')
  t.same(Object.keys(first.json()).sort(), ['expiresAt', 'mediaId'])

  const again = await consoleUpload(app, { data: PNG, filename: 'other-name.png' })
  t.equal(again.statusCode, 201)
  t.same(again.json(), first.json(), 'the same bytes: the kept media_id')
  t.equal(await calls(sim, UPLOAD_PATH), 1, 'WeChat saw one upload')

  const other = await consoleUpload(app, { data: GIF, contentType: 'image/gif' })
  t.not(other.json().mediaId, mediaId)
  t.equal(await calls(sim, UPLOAD_PATH), 2, 'another image: uploaded')
})

t.test('console upload: oversized, non-image and non-multipart uploads are refused before WeChat is called', async (t) => {
  const { sim, app } = await setup(t, { MEDIA_UPLOAD_MAX_BYTES: '2048' })
  const big = await consoleUpload(app, { data: Buffer.concat([PNG, Buffer.alloc(4096)]) })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'CS_MEDIA_TOO_LARGE')
  const text = await consoleUpload(app, { data: 'not a picture', contentType: 'text/plain', filename: 'a.txt' })
  t.equal(text.statusCode, 415)
  t.equal(text.json().code, 'CS_MEDIA_TYPE_UNSUPPORTED')
  const svg = await consoleUpload(app, { data: '<svg xmlns="http://www.w3.org/2000/svg"/>', contentType: 'image/svg+xml', filename: 'a.svg' })
  t.equal(svg.statusCode, 415, 'SVG is not an accepted image')
  const json = await consoleCall(app, 'POST', '/media', { media: 'x' })
  t.equal(json.statusCode, 415)
  t.equal(json.json().code, 'CS_MEDIA_NOT_MULTIPART')
  const { payload, headers } = multipart([{ name: 'file', filename: 'a.png', contentType: 'image/png', data: PNG }])
  const wrongField = await callInternal(app, { method: 'POST', url: '/api/console/media', identity: ANA, payload, headers })
  t.equal(wrongField.statusCode, 400)
  t.equal(wrongField.json().code, 'CS_MEDIA_MISSING')
  t.equal(await calls(sim, UPLOAD_PATH), 0, 'nothing reached WeChat')
  t.equal((app.consoleMediaRepository as MemoryConsoleMediaRepository).size, 0, 'nothing kept')
})

t.test('console media proxy: a user\'s picture from WeChat, our own from the kept bytes, with its type and cache header', async (t) => {
  const { sim, app } = await setup(t)
  const { mediaId: theirs } = await sim.control.userMedia({ contentType: 'image/jpeg', data: JPEG })
  const got = await consoleCall(app, 'GET', `/media/${theirs}`)
  t.equal(got.statusCode, 200)
  t.ok(got.rawPayload.equals(JPEG), 'the bytes')
  t.equal(got.headers['content-type'], 'image/jpeg')
  t.equal(got.headers['cache-control'], 'private, max-age=259200')
  t.equal(got.headers['x-content-type-options'], 'nosniff')
  t.equal(got.headers['content-disposition'], undefined, 'shown inline')
  t.equal(await calls(sim, GET_PATH), 1)

  const ours = (await consoleUpload(app, { data: PNG })).json().mediaId as string
  const mine = await consoleCall(app, 'GET', `/media/${ours}`)
  t.ok(mine.rawPayload.equals(PNG))
  t.equal(mine.headers['content-type'], 'image/png')
  t.equal(await calls(sim, GET_PATH), 1, 'served from the kept bytes: no WeChat call')

  const unknown = await consoleCall(app, 'GET', '/media/NoSuchMedia_1')
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'CS_MEDIA_NOT_FOUND')
  t.equal((await consoleCall(app, 'GET', '/media/..%2Fsecret')).statusCode, 400)
})

t.test('40007: a console send uploads the kept image again, once, and sends', async (t) => {
  const { sim, app, clock } = await setup(t)
  const mediaId = (await consoleUpload(app, { data: PNG })).json().mediaId as string
  // WeChat forgets the media after three days (our cache still trusts it: our clock did not move).
  await sim.control.advanceClock(THREE_DAYS + 1000)
  // The access_token expired too: refreshed here (a user's picture fetched), so the counts below are the media's.
  const { mediaId: picture } = await sim.control.userMedia({ contentType: 'image/jpeg', data: JPEG })
  t.equal((await consoleCall(app, 'GET', `/media/${picture}`)).statusCode, 200)
  const openid = await userMessaged(app, sim, clock, 'mia')
  const sendsBefore = await calls(sim, SEND_PATH)

  const sent = await consoleSend(app, openid, { msgtype: 'image', image: { media_id: mediaId } })
  t.match(sent, { id: /^out:/ })
  t.equal(await calls(sim, UPLOAD_PATH), 2, 'uploaded once more, from the kept bytes')
  t.equal(await calls(sim, SEND_PATH) - sendsBefore, 2, 'the refused send and the retry')
  const received = (await sim.control.sent({ openid })).messages
  t.equal(received.length, 1, 'the user got the image once')
  const fresh = (received[0] as unknown as { image: { media_id: string } }).image.media_id
  t.not(fresh, mediaId, 'with the new media_id')
  t.equal((await app.consoleMedia.kept(mediaId))?.mediaId, fresh, 'the old media_id leads to the new one')

  // The card thumbnail and the next image send use the new media_id directly: no 40007, no upload.
  await consoleSend(app, openid, { msgtype: 'miniprogrampage', miniprogrampage: { title: 'Menu', pagepath: 'pages/menu/index', thumb_media_id: mediaId } })
  t.equal(await calls(sim, UPLOAD_PATH), 2)
  t.equal(await calls(sim, SEND_PATH) - sendsBefore, 3)
  t.equal(((await sim.control.sent({ openid })).messages[1] as unknown as { miniprogrampage: { thumb_media_id: string } }).miniprogrampage.thumb_media_id, fresh)
})

t.test('40007 twice, or for an image we do not keep: the error as WeChat gave it, one upload at most', async (t) => {
  const { sim, app, clock } = await setup(t)
  const openid = await userMessaged(app, sim, clock, 'noa')
  const mediaId = (await consoleUpload(app, { data: GIF, contentType: 'image/gif' })).json().mediaId as string
  await sim.control.fault({ path: SEND_PATH, errcode: 40007, count: 2 })
  await t.rejects(consoleSend(app, openid, { msgtype: 'image', image: { media_id: mediaId } }), { code: 'WECHAT_MEDIA_INVALID' })
  t.equal(await calls(sim, UPLOAD_PATH), 2, 'one upload again, not two')

  const uploads = await calls(sim, UPLOAD_PATH)
  await t.rejects(consoleSend(app, openid, { msgtype: 'image', image: { media_id: 'NotOursMedia_1' } }), { code: 'WECHAT_MEDIA_INVALID' })
  t.equal(await calls(sim, UPLOAD_PATH), uploads, 'nothing kept to upload')
  t.equal((await sim.control.sent({ openid })).messages.length, 0)
})

t.test('the console\'s POST …/messages: a card whose thumbnail WeChat forgot is sent after one upload again', async (t) => {
  const { sim, app, clock } = await setup(t)
  const thumb = (await consoleUpload(app, { data: PNG })).json().mediaId as string
  await sim.control.advanceClock(THREE_DAYS + 1000)
  const { mediaId: picture } = await sim.control.userMedia({ contentType: 'image/jpeg', data: JPEG })
  t.equal((await consoleCall(app, 'GET', `/media/${picture}`)).statusCode, 200, 'access_token refreshed')
  const openid = await userMessaged(app, sim, clock, 'ola')

  const res = await consoleCall(app, 'POST', `/conversations/${openid}/messages`, { type: 'miniprogrampage', title: 'Menu', pagepath: 'pages/menu/index', thumbMediaId: thumb })
  t.equal(res.statusCode, 201, res.body)
  t.equal(res.json().message.outcome, 'sent')
  t.equal(await calls(sim, UPLOAD_PATH), 2, 'the thumbnail uploaded once more')
  const received = (await sim.control.sent({ openid })).messages
  t.equal(received.length, 1)
  const sentThumb = (received[0] as unknown as { miniprogrampage: { thumb_media_id: string } }).miniprogrampage.thumb_media_id
  t.not(sentThumb, thumb)
  t.equal((await app.consoleMedia.kept(thumb))?.mediaId, sentThumb)
})
