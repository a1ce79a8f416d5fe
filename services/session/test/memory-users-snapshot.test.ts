import t from 'tap'
import { MemoryUsersRepository } from '../src/repositories/memory.js'

// The embedded users store answers findByOpenid (every /me) with one frozen copy per change of the user.
t.test('findByOpenid: a frozen copy, shared until the user changes, never the stored record', async (t) => {
  const users = new MemoryUsersRepository()
  await users.upsertOnLogin({ openid: 'o1', sessionKey: 'k1', wxUserInfo: { openId: 'o1', nickName: 'Ann', watermark: { appid: 'wx1', timestamp: 1 } }, now: new Date(0) })
  const first = await users.findByOpenid('o1')
  t.ok(first !== null && Object.isFrozen(first) && Object.isFrozen(first.wxUserInfo) && Object.isFrozen(first.wxUserInfo?.watermark), 'frozen to the leaves')
  t.equal(await users.findByOpenid('o1'), first, 'read twice: the same copy')
  t.throws(() => { (first as { nickname?: string }).nickname = 'Mallory' }, TypeError)
  t.throws(() => { (first!.wxUserInfo as { nickName: string }).nickName = 'Mallory' }, TypeError)

  const updated = await users.updateProfile('o1', { nickname: 'Bea' })
  t.equal(updated?.nickname, 'Bea')
  updated!.nickname = 'changed by the caller' // what a write answers is the caller's own copy
  const afterUpdate = await users.findByOpenid('o1')
  t.not(afterUpdate, first, 'a write makes a new copy')
  t.equal(afterUpdate?.nickname, 'Bea')
  t.equal(first?.nickname, undefined, 'the old copy is what it was')

  await users.setPhone('o1', { phoneNumber: '13800000000', purePhoneNumber: '13800000000', countryCode: '86' })
  t.equal((await users.findByOpenid('o1'))?.phone?.countryCode, '86')
  await users.upsertOnLogin({ openid: 'o1', sessionKey: 'k2', now: new Date(1000) })
  const afterLogin = await users.findByOpenid('o1')
  t.equal(afterLogin?.lastSeenAt, new Date(1000).toISOString())
  t.equal(afterLogin?.wxUserInfo?.nickName, 'Ann')
  t.equal(await users.findByOpenid('nobody'), null)
})
