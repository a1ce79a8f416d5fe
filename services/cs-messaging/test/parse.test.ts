import t from 'tap'
import { parsePushJson } from '../src/push/json.js'
import { parsePushXml } from '../src/push/xml.js'
import { dedupKey, toInboundMessage } from '../src/push/message.js'

t.test('JSON: 64-bit ids kept exactly, without IEEE-754', async (t) => {
  const m = parsePushJson('{"MsgId":6054768590064713728,"CreateTime":1409735668,"Content":"MsgId: 1 \\"MsgId\\":2","x":[1,2.5,-3e2]}')
  t.equal(m.MsgId, '6054768590064713728')
  t.equal(m.CreateTime, 1409735668, 'other numbers stay numbers')
  t.equal(m.Content, 'MsgId: 1 "MsgId":2', 'text that looks like a key is untouched')
  t.same(m.x, [1, 2.5, -300])
  t.equal(parsePushJson('{"MsgId":1}').MsgId, '1', 'small ids become strings too: one type')
  t.equal(parsePushJson('{"MsgId":"49d72d_1555684067"}').MsgId, '49d72d_1555684067', 'opaque string ids stay as they are')
  t.equal((parsePushJson('{"List":{"MsgID":1700827132819554304}}').List as Record<string, unknown>).MsgID, '1700827132819554304', 'nested MsgID')
  t.same(parsePushJson('{"List":[{"MsgID":1700827132819554304},{"MsgID":1700827132819554305}]}').List, [{ MsgID: '1700827132819554304' }, { MsgID: '1700827132819554305' }])
  t.equal(parsePushJson('{"trace_id":18446744073709551615}').trace_id, '18446744073709551615', 'unsafe integers under *id keys kept as strings')
  t.equal(parsePushJson('{"a":"\\\\","MsgId":18446744073709551615}').MsgId, '18446744073709551615', 'escaped backslash before the key')
  t.equal(parsePushJson(' {\n"MsgId" :\t18446744073709551615 } ').MsgId, '18446744073709551615', 'whitespace anywhere')
})

t.test('JSON: junk is refused', async (t) => {
  t.throws(() => parsePushJson('{"n":1e400}'), { code: 'CS_JSON_NUMBER_UNSAFE' })
  t.throws(() => parsePushJson(`{"n":${'1'.repeat(30)}}`), { code: 'CS_JSON_NUMBER_UNSAFE' })
  t.throws(() => parsePushJson('{"n":9007199254740993}'), { code: 'CS_JSON_NUMBER_UNSAFE' })
  t.throws(() => parsePushJson('{"n":[9007199254740993]}'), { code: 'CS_JSON_NUMBER_UNSAFE' })
  t.throws(() => parsePushJson('{"MsgId":-1.5}'), { code: 'CS_JSON_NUMBER_UNSAFE' })
  t.throws(() => parsePushJson('{"a":' + '['.repeat(17) + ']'.repeat(17) + '}'), { code: 'CS_BODY_MALFORMED' })
  t.doesNotThrow(() => parsePushJson('{"a":' + '['.repeat(14) + ']'.repeat(14) + '}'), 'reasonable nesting is fine')
  t.throws(() => parsePushJson('{"constructor":{"prototype":1}}'), { code: 'CS_BODY_MALFORMED' })
  t.throws(() => parsePushJson('{"a":1,}'), { code: 'CS_BODY_MALFORMED' })
  t.throws(() => parsePushJson('{"a":01}'), { code: 'CS_BODY_MALFORMED' })
  t.throws(() => parsePushJson('{"a":"unterminated}'), { code: 'CS_BODY_MALFORMED' })
  t.throws(() => parsePushJson('"just a string"'), { code: 'CS_BODY_MALFORMED' })
  t.throws(() => parsePushJson('{"MsgId":1 2}'), { code: 'CS_BODY_MALFORMED' }, 'quoting never makes invalid JSON valid')
})

t.test('XML: strings only, no entities, CDATA kept verbatim', async (t) => {
  const m = parsePushXml('<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1409735668</CreateTime><Content><![CDATA[ a <b> &amp; ]]></Content><Esc>x &amp; y</Esc><MsgId>6054768590064713728</MsgId><Empty/></xml>')
  t.same(m, { ToUserName: 'gh_1', CreateTime: '1409735668', Content: ' a <b> &amp; ', Esc: 'x &amp; y', MsgId: '6054768590064713728', Empty: '' })
  const nested = parsePushXml('<xml>\n  <List>\n    <TemplateId><![CDATA[t1]]></TemplateId>\n    <MsgID>1700827132819554304</MsgID>\n  </List>\n</xml>')
  t.same(nested, { List: { TemplateId: 't1', MsgID: '1700827132819554304' } })
  t.same(parsePushXml('<?xml version="1.0" encoding="utf-8"?><xml><A>1</A><A>2</A></xml>'), { A: ['1', '2'] }, 'repeated elements become arrays; the declaration is ignored')
  t.throws(() => parsePushXml('<!DOCTYPE xml><xml/>'), { code: 'CS_XML_FORBIDDEN' })
  t.throws(() => parsePushXml('<xml><!ENTITY a "b"></xml>'), { code: 'CS_XML_FORBIDDEN' })
  t.throws(() => parsePushXml('<xml>text only</xml>'), { code: 'CS_BODY_MALFORMED' })
  t.throws(() => parsePushXml('<xml><a>1</a></xml><xml/>'), { code: 'CS_BODY_MALFORMED' })
  t.throws(() => parsePushXml('<xml><a b="1" b="2">x</a></xml>'), { code: 'CS_BODY_MALFORMED' })
})

t.test('messages: required fields, types, de-duplication keys', async (t) => {
  const m = toInboundMessage({ ToUserName: 'gh', FromUserName: 'o1', CreateTime: '1714112445', MsgType: 'text', Content: 'x', MsgId: '22923519871373703' })
  t.equal(m.CreateTime, 1714112445)
  t.equal(dedupKey(m), 'msg:22923519871373703')
  const e = toInboundMessage({ ToUserName: 'gh', FromUserName: 'o1', CreateTime: 1714112445, MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'x' })
  t.equal(dedupKey(e), 'evt:o1:1714112445:user_enter_tempsession')
  t.equal(dedupKey(toInboundMessage({ ToUserName: 'gh', FromUserName: 'o1', CreateTime: 1, MsgType: 'odd' })), 'evt:o1:1:odd')
  t.equal(dedupKey(toInboundMessage({ ToUserName: 'gh', FromUserName: 'o1', CreateTime: 1, MsgType: 'text', MsgId: '' })), 'evt:o1:1:text', 'an empty MsgId does not count')
  t.throws(() => toInboundMessage({ ToUserName: 'gh', FromUserName: 'o1', CreateTime: 1.5, MsgType: 'text' }), { code: 'CS_MESSAGE_INVALID' })
  t.throws(() => toInboundMessage({ ToUserName: 'gh', FromUserName: 'o1', CreateTime: '-1', MsgType: 'text' }), { code: 'CS_MESSAGE_INVALID' })
  t.throws(() => toInboundMessage({ ToUserName: 'gh', FromUserName: 'o'.repeat(200), CreateTime: 1, MsgType: 'text' }), { code: 'CS_MESSAGE_INVALID' })
  t.throws(() => toInboundMessage({ ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'event', Event: { x: 1 } }), { code: 'CS_MESSAGE_INVALID' })
})

t.test('timestamp window: inclusive bound, both directions', async (t) => {
  const { PushDecoder } = await import('../src/push/decoder.js')
  const { urlSignature } = await import('@weapp/wechat')
  const now = 1_800_000_000
  const decoder = new PushDecoder({ token: 'Tok123', appId: 'wx0123456789abcdef', allowPlaintext: true, timestampWindowSec: 300, now: () => new Date(now * 1000) })
  const body = Buffer.from('{"ToUserName":"gh","FromUserName":"o","CreateTime":1,"MsgType":"text","MsgId":1}')
  const at = (ts: number): Record<string, string> => ({ signature: urlSignature('Tok123', String(ts), 'n1'), timestamp: String(ts), nonce: 'n1' })
  for (const ts of [now - 300, now + 300, now]) t.equal(decoder.decode(at(ts), body).kind, 'message', `skew ${ts - now} s accepted`)
  for (const ts of [now - 301, now + 301, 0]) t.throws(() => decoder.decode(at(ts), body), { code: 'CS_TIMESTAMP_STALE' }, `skew ${ts - now} s refused`)
})
