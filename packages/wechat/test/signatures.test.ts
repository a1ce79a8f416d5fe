// signaturesEqual is what every WeChat signature check goes through (cs-messaging's push decoder,
// MsgCrypt.verify, the simulator's checks): any presented value is a yes or a no, never a throw.
import t from 'tap'
import { MsgCrypt, SignatureMismatchError, msgSignature, signaturesEqual } from '@weapp/wechat'

const expected = msgSignature('token', '1700000000', 'nonce', 'ciphertext')

t.test('a multibyte value of the signature\'s length is a mismatch, not a RangeError', async (t) => {
  for (const presented of ['é' + expected.slice(1), 'İ' + expected.slice(1), '签'.repeat(40), '\u{1F600}'.repeat(20), expected.slice(1) + 'ß']) {
    t.equal(presented.length, expected.length, `${JSON.stringify(presented.slice(0, 2))}… is ${presented.length} UTF-16 units`)
    t.equal(signaturesEqual(expected, presented), false)
  }
  t.equal(signaturesEqual(expected, expected), true)
  t.equal(signaturesEqual(expected, expected.toUpperCase()), true, 'hex case does not matter')
})

t.test('MsgCrypt.verify refuses a multibyte msg_signature with WECHAT_SIGNATURE_MISMATCH', async (t) => {
  const crypt = new MsgCrypt({ token: 'token', encodingAESKey: 'k'.repeat(42) + 'A', appId: 'wx0123456789abcdef' })
  t.throws(() => { crypt.verify('1700000000', 'nonce', 'ciphertext', 'İ' + 'a'.repeat(39)) }, SignatureMismatchError)
  t.doesNotThrow(() => { crypt.verify('1700000000', 'nonce', 'ciphertext', crypt.signature('1700000000', 'nonce', 'ciphertext')) })
})
