import t from 'tap'
import { createHash } from 'node:crypto'
import { credentialHash } from '@weapp/common'

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex')

t.test('each credential form hashes with its own prefix (docs/internals.md)', async (t) => {
  t.equal(credentialHash({ kind: 'bearer', token: 'tok' }), sha256('bearer:tok'))
  t.equal(credentialHash({ kind: 'wafer1', id: 'id', skey: 'sk' }), sha256('wafer1:id:sk'))
  t.equal(credentialHash({ kind: 'wafer2', skey: 'sk' }), sha256('wafer2:sk'))
  t.not(credentialHash({ kind: 'wafer2', skey: 'sk' }), credentialHash({ kind: 'bearer', token: 'sk' }), 'forms never collide')
})
