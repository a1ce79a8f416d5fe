import t from 'tap'
import { decryptOpenData, rawDataSignature } from '@weapp/wechat'
import { APP, OTHER_APP, RID, advance, code2sessionUrl, getJson, loginCode, makeSim } from './fixtures/sim.js'

t.test('a code gives openid, session_key and unionid, once', async (t) => {
  const sim = await makeSim(t)
  const login = await loginCode(sim)
  t.match(login.code, /^[A-Za-z0-9]{32}$/)
  const session = await getJson(sim, code2sessionUrl(login.code))
  t.same(Object.keys(session).sort(), ['openid', 'session_key', 'unionid'], 'no errcode on success')
  t.equal(session.openid, login.openid)
  t.equal(session.unionid, login.unionid)
  t.match(session.openid, /^o[A-Za-z0-9_-]{27}$/)
  t.equal(Buffer.from(session.session_key, 'base64').length, 16)

  const again = await getJson(sim, code2sessionUrl(login.code))
  t.equal(again.errcode, 40163, 'second use')
  t.match(again.errmsg, RID)
})

t.test('codes expire', async (t) => {
  const sim = await makeSim(t, { codeTtlMs: 60_000 })
  const a = await loginCode(sim)
  const b = await loginCode(sim, { user: 'alice', ttlMs: 10 * 60_000 })
  await advance(sim, 60_000)
  t.equal((await getJson(sim, code2sessionUrl(a.code))).errcode, 40029, 'default ttl passed')
  t.equal((await getJson(sim, code2sessionUrl(b.code))).openid, b.openid, 'per-code ttl still running')
})

t.test('ids are stable per user across codes, rebuilds and resets, and differ between users', async (t) => {
  const sim = await makeSim(t)
  const first = await getJson(sim, code2sessionUrl((await loginCode(sim)).code))
  const second = await getJson(sim, code2sessionUrl((await loginCode(sim)).code))
  t.same(second, first)
  await sim.inject({ method: 'POST', url: '/sim/reset' })
  t.same(await getJson(sim, code2sessionUrl((await loginCode(sim)).code)), first, 'after reset')

  const rebuilt = await makeSim(t)
  t.same(await getJson(rebuilt, code2sessionUrl((await loginCode(rebuilt)).code)), first, 'after rebuild')

  const bob = await getJson(sim, code2sessionUrl((await loginCode(sim, { user: 'bob' })).code))
  t.not(bob.openid, first.openid)
  t.not(bob.unionid, first.unionid)
  t.not(bob.session_key, first.session_key)
})

t.test('other apps: same unionid, other openid, codes not interchangeable', async (t) => {
  const sim = await makeSim(t, { apps: [APP, OTHER_APP] })
  const mine = await loginCode(sim)
  const theirs = await loginCode(sim, { user: 'alice', appId: OTHER_APP.appId })
  t.equal(theirs.unionid, mine.unionid)
  t.not(theirs.openid, mine.openid)
  t.equal((await getJson(sim, code2sessionUrl(theirs.code, APP))).errcode, 40029, 'foreign code')
  t.equal((await getJson(sim, code2sessionUrl(theirs.code, OTHER_APP))).openid, theirs.openid, 'still usable by its app')
})

t.test('parameter and credential errors', async (t) => {
  const sim = await makeSim(t)
  const { code } = await loginCode(sim)
  const base = { appid: APP.appId, secret: APP.appSecret, js_code: code, grant_type: 'authorization_code' }
  const call = async (q: Record<string, string | undefined>): Promise<number> => {
    const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined))
    return (await getJson(sim, `/sns/jscode2session?${params.toString()}`)).errcode
  }
  t.equal(await call({ ...base, appid: undefined }), 41002, 'appid missing')
  t.equal(await call({ ...base, appid: '' }), 41002, 'appid empty')
  t.equal(await call({ ...base, secret: undefined }), 41004, 'secret missing')
  t.equal(await call({ ...base, js_code: undefined }), 41008, 'code missing')
  t.equal(await call({ ...base, grant_type: 'client_credential' }), 40002, 'wrong grant_type')
  t.equal(await call({ ...base, grant_type: undefined }), 40002, 'grant_type missing')
  t.equal(await call({ ...base, appid: 'wx0000000000000000' }), 40013, 'unknown appid')
  t.equal(await call({ ...base, secret: 'f'.repeat(32) }), 40125, 'wrong secret')
  t.equal(await call({ ...base, js_code: 'nope' }), 40029, 'unknown code')
  t.equal(await call(base), undefined, 'the code survived all of that')
})

t.test('45011 after 100 calls per user per minute', async (t) => {
  const sim = await makeSim(t)
  for (let i = 0; i < 100; i++) {
    const res = await getJson(sim, code2sessionUrl((await loginCode(sim)).code))
    if (res.openid === undefined) t.fail(`call ${i + 1}: ${JSON.stringify(res)}`)
  }
  const { code } = await loginCode(sim)
  const limited = await getJson(sim, code2sessionUrl(code))
  t.equal(limited.errcode, 45011)
  t.match(limited.errmsg, /minute-quota/)
  t.ok((await getJson(sim, code2sessionUrl((await loginCode(sim, { user: 'bob' })).code))).openid, 'other users unaffected')
  await advance(sim, 60_000)
  t.ok((await getJson(sim, code2sessionUrl(code))).openid, 'the refused code still works next minute')
})

t.test('the quota is configurable', async (t) => {
  const sim = await makeSim(t, { code2SessionPerUserPerMinute: 2 })
  for (let i = 0; i < 2; i++) await getJson(sim, code2sessionUrl((await loginCode(sim)).code))
  t.equal((await getJson(sim, code2sessionUrl((await loginCode(sim)).code))).errcode, 45011)
})

t.test('userInfo decrypts with the session_key from jscode2session and its rawData signature verifies', async (t) => {
  const sim = await makeSim(t)
  const login = await loginCode(sim, { user: 'carol', nickName: 'Carol 张', avatarUrl: 'https://example.com/a.png' })
  const { session_key: sessionKey } = await getJson(sim, code2sessionUrl(login.code))
  const info = decryptOpenData<Record<string, any>>({ sessionKey, encryptedData: login.userInfo.encryptedData, iv: login.userInfo.iv, appId: APP.appId })
  t.match(info, {
    openId: login.openid,
    unionId: login.unionid,
    nickName: 'Carol 张',
    avatarUrl: 'https://example.com/a.png',
    gender: Number,
    language: String,
    watermark: { appid: APP.appId, timestamp: Math.floor(sim.simState.now() / 1000) }
  })
  const raw = JSON.parse(login.userInfo.rawData)
  t.equal(raw.nickName, 'Carol 张')
  t.notOk('openId' in raw || 'unionId' in raw || 'watermark' in raw, 'rawData holds only non-sensitive fields')
  t.equal(login.userInfo.signature, rawDataSignature(login.userInfo.rawData, sessionKey))

  const plain = await loginCode(sim, { user: 'dave' })
  const dave = await getJson(sim, code2sessionUrl(plain.code))
  t.equal(JSON.parse(plain.userInfo.rawData).nickName, 'dave', 'nickName defaults to the user label')
  t.throws(() => decryptOpenData({ sessionKey: dave.session_key, encryptedData: login.userInfo.encryptedData, iv: login.userInfo.iv, appId: APP.appId }), 'another user\'s key does not decrypt')
})
