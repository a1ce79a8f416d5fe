// WeChat's errcodes explained in words (src/wechat-errors.ts).
import t from 'tap'
import { EXPLAINED_ERRCODES, explainWechatError } from '../src/wechat-errors.js'

t.test('each errcode the console meets has words of its own, naming the code', async (t) => {
  const required = [45015, 45047, 40003, 48001, 45080, 45081, 40007, 45009, 40001]
  const texts = new Set<string>()
  for (const code of required) {
    t.ok(EXPLAINED_ERRCODES.includes(code), `${code} is in the table`)
    const text = explainWechatError(code)
    t.match(text, String(code))
    t.notMatch(text, /^WeChat refused the message \(error/, `${code} is explained, not just named`)
    texts.add(text)
  }
  t.equal(texts.size, required.length, 'no two codes share an explanation')
  t.match(explainWechatError(45047), /No messages left/)
  t.match(explainWechatError(45015), /window is closed/)
})

t.test('an unknown errcode is named; our own refusals are explained by their code', async (t) => {
  t.equal(explainWechatError(99999), 'WeChat refused the message (error 99999).')
  t.match(explainWechatError(undefined, 'CS_SEND_QUOTA_EXCEEDED'), /No messages left/)
  t.match(explainWechatError(undefined, 'CS_SEND_WINDOW_CLOSED'), /window is closed/)
  t.equal(explainWechatError(undefined, 'CS_SOMETHING'), 'The message was not sent (CS_SOMETHING).')
  t.equal(explainWechatError(undefined), 'The message was not sent.')
  t.equal(explainWechatError(undefined, 'WECHAT_SEND_QUOTA_EXCEEDED'), explainWechatError(45047), 'a record with our code alone')
})
