import t from 'tap'
import type { InboundMessage } from '@weapp/common'
import { loadCsConfig } from '../src/config.js'
import { AutoReplyRules, MAX_MATCHED_CHARS, parseRules } from '../src/auto-reply/rules.js'
import { unsafeRegexReason } from '../src/auto-reply/safe-regex.js'

// Operator-written regexes run synchronously on user texts of up to 64 KiB: catastrophic patterns are
// refused at boot, and every rule looks at the first MAX_MATCHED_CHARS characters only.

const env = {
  INTERNAL_TOKEN: 'f3a9c1e07b5d42869e1f0a7c3b5d9e2f4a6c8e0b1d3f5a7c',
  APP_ID: 'wx0123456789abcdef',
  WECHAT_TOKEN: 'Q7mZp2Kx9VdR4tLw'
}
const text = (Content: string): InboundMessage => ({ ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'text', Content, MsgId: '1' }) as InboundMessage

t.test('a catastrophic pattern stops the boot, naming the variable and the rule', async (t) => {
  const rules = JSON.stringify([{ keyword: 'hi', reply: 'Hello' }, { match: 'regex', keyword: '(a+)+$', reply: 'never' }])
  t.throws(() => loadCsConfig({ ...env, AUTO_REPLY_RULES: rules }), {
    code: 'COMMON_CONFIG_INVALID',
    message: /AUTO_REPLY_RULES\[1\]\.keyword is refused: a repeated group that contains a repetition/
  })
  t.same(loadCsConfig({ ...env, AUTO_REPLY_RULES: JSON.stringify([{ match: 'regex', keyword: '^order\\s+\\d+$', reply: 'ok' }]) }).autoReplyRules.length, 1, 'a safe pattern boots')
})

t.test('refused: nested quantifiers, unbounded alternation, backreferences, lookarounds', async (t) => {
  const refused: Array<[string, RegExp]> = [
    ['(a+)+$', /nested quantifiers/],
    ['(a*)*b', /nested quantifiers/],
    ['^(\\w+\\s?)+$', /nested quantifiers/],
    ['(?:\\d{1,3})+x', /nested quantifiers/],
    ['((ab)+c)*', /nested quantifiers/],
    ['(?<word>[a-z]+)+!', /nested quantifiers/],
    ['(x+x+)+y', /nested quantifiers/],
    ['(a|aa)*$', /alternation inside a group repeated without bound/],
    ['(?:yes|y)+', /alternation inside a group repeated without bound/],
    ['(a)\\1', /backreference/],
    ['(?<q>a)\\k<q>', /backreference/],
    ['price(?=\\d)', /lookaround/],
    ['(?!spam)\\w+', /lookaround/],
    ['(?<=\\$)\\d+', /lookaround/],
    ['(?<!no )refund', /lookaround/]
  ]
  for (const [pattern, reason] of refused) {
    t.match(unsafeRegexReason(pattern), reason, pattern)
    t.throws(() => parseRules(JSON.stringify([{ match: 'regex', keyword: pattern, reply: 'x' }])), { message: /AUTO_REPLY_RULES\[0\]\.keyword is refused/ }, `${pattern} refused by parseRules`)
  }
})

t.test('accepted: what keyword rules need', async (t) => {
  const accepted = [
    '^order\\s+\\d+$', 'price|cost', '^(yes|no)$', '(?:refund|return) policy', '\\d{6}', '(ab){2}', '(a|b){1,3}',
    '[(+*)]+', '\\(a+\\)+', '(a?)?', '^\\p{Script=Han}{2,}$', '\\u{1F600}+', '(?<n>\\d+)-x', 'a{2,}b'
  ]
  for (const pattern of accepted) {
    t.equal(unsafeRegexReason(pattern), undefined, pattern)
    t.equal(parseRules(JSON.stringify([{ match: 'regex', keyword: pattern, reply: 'x' }])).length, 1, `${pattern} parsed`)
  }
})

t.test('a 64 KiB text is matched on its first MAX_MATCHED_CHARS characters only', async (t) => {
  t.equal(MAX_MATCHED_CHARS, 4096)
  const rules = new AutoReplyRules({
    rules: parseRules(JSON.stringify([
      { match: 'regex', keyword: 'needle$', reply: 'regex' },
      { match: 'contains', keyword: 'haystack', reply: 'contains' },
      { match: 'prefix', keyword: 'hello', reply: 'prefix' }
    ])),
    transferAll: false
  })
  const big = 64 * 1024
  // The end of the text is past the cap: `needle$` sees a text that does not end with it.
  t.equal(rules.decide(text('a'.repeat(big - 6) + 'needle')).reply, undefined, 'regex: the tail beyond the cap is not looked at')
  t.equal(rules.decide(text('a'.repeat(MAX_MATCHED_CHARS - 6) + 'needle' + 'b'.repeat(big))).reply?.text, 'regex', 'regex: the capped text ends with it')
  t.equal(rules.decide(text('a'.repeat(MAX_MATCHED_CHARS) + 'haystack' + 'a'.repeat(big))).reply, undefined, 'contains: not beyond the cap')
  t.equal(rules.decide(text('a'.repeat(MAX_MATCHED_CHARS - 8) + 'haystack' + 'a'.repeat(big))).reply?.text, 'contains', 'contains: within the cap')
  t.equal(rules.decide(text('hello' + 'a'.repeat(big))).reply?.text, 'prefix')

  // What a regex is given: exactly the first MAX_MATCHED_CHARS characters of a longer text.
  const length = (keyword: string): AutoReplyRules => new AutoReplyRules({ rules: parseRules(JSON.stringify([{ match: 'regex', keyword, reply: keyword }])), transferAll: false })
  t.equal(length(`^[\\s\\S]{${MAX_MATCHED_CHARS}}$`).decide(text(' '.repeat(big))).reply?.text, `^[\\s\\S]{${MAX_MATCHED_CHARS}}$`, 'a 64 KiB text is seen as 4096 characters')
  t.equal(length(`[\\s\\S]{${MAX_MATCHED_CHARS + 1}}`).decide(text(' '.repeat(big))).reply, undefined, 'never more')
})
