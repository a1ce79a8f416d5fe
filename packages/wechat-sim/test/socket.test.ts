import t from 'tap'
import { decryptOpenData } from '@weapp/wechat'
import { listenLocal } from '@weapp/test-kit'
import { buildSimulator, DEFAULT_SIM_APP, SimControl, SimControlError } from '../src/index.js'

// Over a real socket with the typed control client, as other packages' tests and the README use it.
t.test('SimControl drives a listening simulator', async (t) => {
  const sim = await buildSimulator()
  t.teardown(() => sim.close())
  const base = await listenLocal(sim)
  const control = new SimControl(base + '/')
  t.equal(control.baseUrl, base)
  const { appId, appSecret } = DEFAULT_SIM_APP
  const code2session = async (code: string): Promise<Record<string, any>> =>
    (await fetch(`${base}/sns/jscode2session?appid=${appId}&secret=${appSecret}&js_code=${code}&grant_type=authorization_code`)).json()

  const login = await control.loginCode({ user: 'alice', nickName: 'Alice' })
  const session = await code2session(login.code)
  t.equal(session.openid, login.openid)
  const info = decryptOpenData<{ nickName: string }>({ sessionKey: session.session_key, ...login.userInfo, appId })
  t.equal(info.nickName, 'Alice')

  t.equal(await control.fault({ path: '/sns/jscode2session', errcode: -1 }), 1)
  const again = await control.loginCode({ user: 'alice' })
  t.equal((await code2session(again.code)).errcode, -1)
  t.equal((await code2session(again.code)).openid, login.openid)
  await control.fault({ path: '/sns/jscode2session', errcode: -1, count: 5 })
  await control.clearFaults('/sns/jscode2session')
  await control.fault({ path: '/cgi-bin/token', errcode: -1 })
  await control.clearFaults()
  t.equal(sim.simState.faults.pending(), 0)
  t.same(await control.stats(), { calls: { '/sns/jscode2session': 3 } })

  const phone = await control.phoneCode({ user: 'alice', phoneNumber: '13700000000' })
  t.equal(phone.phoneNumber, '13700000000')

  const short = await control.loginCode({ user: 'bob', ttlMs: 1000 })
  const before = sim.simState.now()
  const now = await control.advanceClock(1000)
  t.ok(now >= before + 1000)
  t.equal((await code2session(short.code)).errcode, 40029, 'expired by the clock')

  await control.reset()
  t.same(await control.stats(), { calls: {} })

  const err = await control.loginCode({ user: '' }).catch((e: unknown) => e)
  t.type(err, SimControlError)
  t.match(err, { statusCode: 400, code: 'SIM_CONTROL_FAILED', body: { code: 'VALIDATION_FAILED' } })
})
