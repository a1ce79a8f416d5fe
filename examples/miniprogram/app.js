// 小程序入口：创建 SDK 客户端（utils/weapp-sdk.js 由 packages/weapp-sdk 构建），启动时登录一次。
const sdk = require('./utils/weapp-sdk.js')
const config = require('./config.js')

App({
  globalData: {
    user: null
  },

  onLaunch () {
    this.client = sdk.createClient({
      baseUrl: config.baseUrl,
      wsUrl: config.wsUrl,
      timeoutMs: config.requestTimeoutMs
    })
    // wx.login → POST /api/login；已有令牌且 wx.checkSession 有效时直接沿用。
    // 页面里再调用 login() 会等待这同一次登录，不会重复请求。
    this.ready = this.client.login()
    this.ready.then((session) => {
      if (session.user) this.globalData.user = session.user
    }, () => { /* 页面会显示错误并可重试 */ })
  },

  onError (message) {
    console.error(message)
  }
})
