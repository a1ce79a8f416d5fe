// What `pnpm bench:console` installs in each console page before the console loads (page.addInitScript):
// a MutationObserver on the whole document that notes when each bench text first appears in the DOM, and a
// listener on every WebSocket the page opens that notes when a frame carrying it first arrives, both as
// wall-clock ms (`performance.timeOrigin + performance.now()`), comparable with the sender's Date.now().
//
// The script is plain JavaScript text, not a serialised TypeScript function: tsx may add helpers (`__name`)
// to a function's source that do not exist in the page. The one piece of logic both sides share, finding the
// bench's marks in a text, is the same source here (tested) and in the page.

/** The source of `marksIn`: every distinct `<prefix><digits>` in a text, in order of appearance. */
const MARKS_IN_SOURCE = `function marksIn (text, prefix) {
  var found = []
  if (typeof text !== 'string' || text.length === 0) return found
  var from = 0
  for (;;) {
    var at = text.indexOf(prefix, from)
    if (at < 0) return found
    var end = at + prefix.length
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++
    if (end > at + prefix.length) {
      var mark = text.slice(at, end)
      if (found.indexOf(mark) < 0) found.push(mark)
    }
    from = end
  }
}`

/** Every distinct `<prefix><digits>` in `text`, in order of appearance (the page runs this same source). */
// eslint-disable-next-line no-new-func
export const marksIn = new Function(`return (${MARKS_IN_SOURCE})`)() as (text: string, prefix: string) => string[]

/** The global the page keeps its observations in. */
export const SEEN_GLOBAL = '__benchConsoleSeen'

/**
 * What a page observed: per mark, when it was first in the DOM and when a socket frame first carried it; and
 * how many socket frames arrived, of which console events (for the frames per push).
 */
export interface PageObservations {
  dom: Record<string, number>
  frames: Record<string, number>
  counts: { frames: number, events: number }
  /** Sockets the page opened, and the close codes of those that closed (a reconnect is a lost stretch of events to resync). */
  sockets: number
  closes: number[]
}

/**
 * The init script: install before the console's own scripts run. A prefix must be specific to the run
 * (e.g. `bench7f3a-`) so nothing else on the page looks like a mark.
 */
export function observerScript (prefix: string): string {
  if (!/^[A-Za-z][A-Za-z0-9-]{2,40}$/.test(prefix)) throw new Error(`unfit mark prefix ${JSON.stringify(prefix)}`)
  return `(function () {
  var prefix = ${JSON.stringify(prefix)}
  var marksIn = ${MARKS_IN_SOURCE}
  var seen = { dom: {}, frames: {}, counts: { frames: 0, events: 0 }, sockets: 0, closes: [] }
  window[${JSON.stringify(SEEN_GLOBAL)}] = seen
  var now = function () { return performance.timeOrigin + performance.now() }
  var note = function (into, text, at) {
    var marks = marksIn(text, prefix)
    for (var i = 0; i < marks.length; i++) if (into[marks[i]] === undefined) into[marks[i]] = at
  }
  new MutationObserver(function (records) {
    var at = now()
    for (var i = 0; i < records.length; i++) {
      var r = records[i]
      if (r.type === 'characterData') note(seen.dom, r.target.data, at)
      else for (var j = 0; j < r.addedNodes.length; j++) note(seen.dom, r.addedNodes[j].textContent, at)
    }
  }).observe(document, { subtree: true, childList: true, characterData: true })
  var Native = window.WebSocket
  var Observed = function (url, protocols) {
    var ws = protocols === undefined ? new Native(url) : new Native(url, protocols)
    seen.sockets++
    ws.addEventListener('close', function (e) { seen.closes.push(e.code) })
    // Added before the console sets onmessage: it runs first, when the frame arrives.
    ws.addEventListener('message', function (e) {
      if (typeof e.data !== 'string') return
      seen.counts.frames++
      if (e.data.indexOf('{"type":"event"') === 0) seen.counts.events++
      note(seen.frames, e.data, now())
    })
    return ws
  }
  Observed.prototype = Native.prototype
  for (var k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Observed[k] = Native[k]
  window.WebSocket = Observed
})()`
}

/** The global the first-load script keeps its times in. */
export const FIRST_LOAD_GLOBAL = '__benchConsoleFirstLoad'

/** When, in ms after navigation start (`performance.now()`), the list and its first conversation entered the DOM. */
export interface FirstLoadTimes { list?: number, item?: number }

/**
 * The init script for the first-load measurement: notes when `[data-testid="conv-list"]` and the first
 * `[data-testid="conv-item"]` enter the DOM, then stops observing.
 */
export function firstLoadScript (): string {
  return `(function () {
  var times = {}
  window[${JSON.stringify(FIRST_LOAD_GLOBAL)}] = times
  var observer = new MutationObserver(function () {
    var at = performance.now()
    if (times.list === undefined && document.querySelector('[data-testid="conv-list"]') !== null) times.list = at
    if (times.item === undefined && document.querySelector('[data-testid="conv-item"]') !== null) times.item = at
    if (times.list !== undefined && times.item !== undefined) observer.disconnect()
  })
  observer.observe(document, { subtree: true, childList: true })
})()`
}
