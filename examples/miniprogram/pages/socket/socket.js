// 实时页：SDK 的 socket() 负责取票据、连接、心跳、断线后退避重连与重新订阅频道；
// 页面只订阅事件并显示：连接问候、回显、服务器推送（user.push、频道消息、客服消息 cs.inbound）。
const app = getApp()
const config = require('../../config.js')

const MAX_ITEMS = 30
const STATE_TEXT = {
  idle: '未连接',
  connecting: '连接中…',
  open: '已连接',
  closed: '已断开'
}

let nextId = 1

// 推送的一行摘要：客服文字消息显示内容，其余显示数据的 JSON。
function summarize (push) {
  const data = push.data || {}
  if (push.event === 'cs.inbound' && data.message && data.message.MsgType === 'text') return '客服消息：' + data.message.Content
  const text = JSON.stringify(data)
  return text.length > 120 ? text.slice(0, 117) + '…' : text
}

Page({
  data: {
    state: 'idle',
    stateText: STATE_TEXT.idle,
    greeting: '',
    draft: '',
    messages: [],
    events: [],
    reconnects: 0,
    lastError: ''
  },

  onLoad () {
    const options = Object.assign({ channels: ['public:demo'] }, config.socket)
    const socket = app.client.socket(options)
    this.socket = socket
    this.setState(socket.state)
    socket.on('open', () => { this.setState('open') })
    socket.on('greeting', (text) => { this.setData({ greeting: text, lastError: '' }) })
    socket.on('message', (text) => { this.prepend('messages', { dir: 'in', text }) })
    socket.on('event', (push) => {
      this.prepend('events', { event: push.event, channel: push.channel || '', summary: summarize(push) })
    })
    socket.on('reconnecting', (info) => {
      this.setData({ reconnects: this.data.reconnects + 1 })
      this.setState('connecting', '重连中（第 ' + info.attempt + ' 次，' + info.delayMs + ' ms 后）')
    })
    socket.on('replaced', () => { this.setState('closed', '已断开：同一用户的新连接取代了这个连接') })
    socket.on('close', (info) => { if (info.reconnectInMs === null) this.setState('closed') })
    socket.on('error', (err) => { this.setData({ lastError: err.message + ' (' + err.code + ')' }) })
  },

  onUnload () {
    if (this.socket) this.socket.close()
  },

  setState (state, text) {
    this.setData({ state, stateText: text || STATE_TEXT[state] || state })
  },

  onDraftInput (e) {
    this.setData({ draft: e.detail.value })
  },

  // 普通文本由服务器回显为 “Server: Received(…)”。
  sendEcho () {
    const text = this.data.draft
    if (!text) return
    try {
      this.socket.send(text)
    } catch (err) {
      wx.showToast({ title: '未连接', icon: 'none' })
      return
    }
    this.prepend('messages', { dir: 'out', text })
    this.setData({ draft: '' })
  },

  reconnect () {
    this.socket.connect()
  },

  prepend (key, item) {
    item.id = nextId++
    this.setData({ [key]: [item].concat(this.data[key]).slice(0, MAX_ITEMS) })
  }
})
