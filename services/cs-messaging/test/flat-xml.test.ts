import t from 'tap'
import { FlatXmlError, scanFlatXml } from '../src/push/flat-xml.js'
import { parsePushXml, parseXmlFull } from '../src/push/xml.js'

const VALID: Array<[string, string, Record<string, string>]> = [
  ['a text message, CDATA and plain numbers',
    '<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_1]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>6054768590064713728</MsgId></xml>',
    { ToUserName: 'gh_1', FromUserName: 'o_1', CreateTime: '1409735668', MsgType: 'text', Content: 'hi', MsgId: '6054768590064713728' }],
  ['CDATA with < > & ]] and ]>, kept verbatim',
    '<xml><Content><![CDATA[a <b> &amp; ]] x ]> y ]]]]></Content></xml>',
    { Content: 'a <b> &amp; ]] x ]> y ]]' }],
  ['CDATA that looks like markup', '<xml><A><![CDATA[</A><B>x</B>]]></A></xml>', { A: '</A><B>x</B>' }],
  ['multi-line with declaration, indentation and CRLF',
    '<?xml version="1.0" encoding="utf-8"?>\r\n<xml>\r\n  <ToUserName><![CDATA[gh]]></ToUserName>\n\t<Content><![CDATA[line 1\nline 2\r\n]]></Content>\n  <CreateTime>1</CreateTime>\n</xml>\n',
    { ToUserName: 'gh', Content: 'line 1\nline 2\n', CreateTime: '1' }],
  ['lone CR and CRLF in values become LF', '<xml><A><![CDATA[a\rb\r\nc\n\rd]]></A><B>x\ry\r\nz</B></xml>', { A: 'a\nb\nc\n\nd', B: 'x\ny\nz' }],
  ['unicode in CDATA and text', '<xml><Content><![CDATA[人工客服 😀 ünï]]></Content><Label>北京</Label></xml>', { Content: '人工客服 😀 ünï', Label: '北京' }],
  ['empty values', '<xml><Empty/><Blank></Blank><EmptyCdata><![CDATA[]]></EmptyCdata><Spaces>  </Spaces></xml>', { Empty: '', Blank: '', EmptyCdata: '', Spaces: '  ' }],
  ['leading whitespace without a declaration', '  \n<xml><A>1</A></xml>', { A: '1' }],
  ['> in text', '<xml><A>1 > 0</A></xml>', { A: '1 > 0' }],
  ['names with digits, dots, dashes, underscores', '<xml><a_1>x</a_1><B.c-d>y</B.c-d><_e>z</_e></xml>', { a_1: 'x', 'B.c-d': 'y', _e: 'z' }],
  ['single-quoted declaration with standalone', "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><xml><A>1</A></xml>", { A: '1' }]
]

t.test('valid shapes: strings exactly as written, the same as the full parser', async (t) => {
  for (const [what, xml, expected] of VALID) {
    const fields = scanFlatXml(xml)
    t.same(fields, expected, what)
    t.same(Object.keys(fields), Object.keys(expected), `${what}: order kept`)
    t.equal(Object.getPrototypeOf(fields), Object.prototype, `${what}: a plain object`)
    if (what !== 'CDATA with < > & ]] and ]>, kept verbatim') t.same(parseXmlFull(xml), expected, `${what}: the full parser agrees`)
    t.same(parsePushXml(xml), expected, `${what}: parsePushXml`)
  }
})

const REJECTED: Array<[string, string]> = [
  ['DOCTYPE', '<!DOCTYPE xml><xml><A>1</A></xml>'],
  ['DOCTYPE inside', '<xml><!DOCTYPE x><A>1</A></xml>'],
  ['ENTITY', '<xml><!ENTITY a "b"><A>1</A></xml>'],
  ['comment', '<xml><!-- c --><A>1</A></xml>'],
  ['processing instruction after the root start', '<xml><?php x ?><A>1</A></xml>'],
  ['processing instruction as the declaration', '<?xml-stylesheet href="a"?><xml><A>1</A></xml>'],
  ['declaration not first', ' <?xml version="1.0"?><xml><A>1</A></xml>'],
  ['second declaration', '<?xml version="1.0"?><?xml version="1.0"?><xml><A>1</A></xml>'],
  ['unterminated declaration', '<?xml version="1.0"<xml><A>1</A></xml>'],
  ['another root', '<root><A>1</A></root>'],
  ['attribute on the root', '<xml a="1"><A>1</A></xml>'],
  ['attribute on a field', '<xml><A b="1">x</A></xml>'],
  ['nested element', '<xml><List><A>1</A></List></xml>'],
  ['mixed content', '<xml><A>x<B/>y</A></xml>'],
  ['text at the root', '<xml>text<A>1</A></xml>'],
  ['text only', '<xml>text only</xml>'],
  ['two CDATA sections', '<xml><A><![CDATA[a]]]]><![CDATA[>b]]></A></xml>'],
  ['text before CDATA', '<xml><A> <![CDATA[a]]></A></xml>'],
  ['text after CDATA', '<xml><A><![CDATA[a]]> </A></xml>'],
  ['predefined entity', '<xml><A>x &amp; y</A></xml>'],
  ['numeric reference', '<xml><A>&#60;</A></xml>'],
  ['unknown entity', '<xml><A>&foo;</A></xml>'],
  ['bare &', '<xml><A>a & b</A></xml>'],
  [']]> in text', '<xml><A>a ]]> b</A></xml>'],
  ['repeated element', '<xml><A>1</A><A>2</A></xml>'],
  ['__proto__', '<xml><__proto__>1</__proto__></xml>'],
  ['constructor', '<xml><constructor>1</constructor></xml>'],
  ['mismatched close tag', '<xml><A>1</B></xml>'],
  ['close tag with a longer name', '<xml><A>1</AB></xml>'],
  ['close tag with a space', '<xml><A>1</A ></xml>'],
  ['stray close tag', '<xml></A></xml>'],
  ['bad name', '<xml><1A>1</1A></xml>'],
  ['empty root', '<xml></xml>'],
  ['self-closed root', '<xml/>'],
  ['content after the root', '<xml><A>1</A></xml><xml/>'],
  ['text after the root', '<xml><A>1</A></xml>x'],
  ['unterminated root', '<xml><A>1</A>'],
  ['unterminated element', '<xml><A>1'],
  ['unterminated tag', '<xml><A'],
  ['unterminated CDATA', '<xml><A><![CDATA[abc</A></xml>'],
  ['malformed empty-element tag', '<xml><A/ ></xml>'],
  ['empty input', ''],
  ['JSON', '{"a":1}']
]

t.test('everything else is refused', async (t) => {
  for (const [what, xml] of REJECTED) t.throws(() => scanFlatXml(xml), FlatXmlError, what)
})

t.test('what the scanner refuses still goes through the full parser: same results and codes as before', async (t) => {
  t.same(parsePushXml('<xml><List><A>1</A></List></xml>'), { List: { A: '1' } }, 'nested List items')
  t.same(parsePushXml('<xml><A>1</A><A>2</A></xml>'), { A: ['1', '2'] }, 'repeated elements')
  t.same(parsePushXml('<xml><A>x &amp; y</A></xml>'), { A: 'x &amp; y' }, 'entities kept verbatim, never expanded')
  t.throws(() => parsePushXml('<!DOCTYPE xml><xml><A>1</A></xml>'), { code: 'CS_XML_FORBIDDEN' })
  t.throws(() => parsePushXml('<xml><!ENTITY a "b"><A>1</A></xml>'), { code: 'CS_XML_FORBIDDEN' })
  for (const xml of ['<xml><A>1</B></xml>', '<xml><A>1', '<xml>text only</xml>', '<xml><A>1</A></xml><xml/>', '<xml><__proto__>1</__proto__></xml>']) {
    t.throws(() => parsePushXml(xml), { code: 'CS_BODY_MALFORMED' }, xml)
  }
})

t.test('linear time on adversarial input', async (t) => {
  const many = '<xml>' + Array.from({ length: 20_000 }, (_, i) => `<F${i}><![CDATA[${'<'.repeat(10)}]]></F${i}>`).join('') + '</xml>'
  const started = process.hrtime.bigint()
  t.equal(Object.keys(scanFlatXml(many)).length, 20_000)
  t.throws(() => scanFlatXml('<xml><A><![CDATA[' + ']]'.repeat(200_000)), FlatXmlError)
  t.throws(() => scanFlatXml('<xml>' + '<A>1</A>'.repeat(50_000)), FlatXmlError)
  t.ok(Number(process.hrtime.bigint() - started) / 1e6 < 1000, 'well under a second')
})
