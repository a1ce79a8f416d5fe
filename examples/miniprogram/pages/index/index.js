// 首页：登录（wx.login → POST /api/login，SDK 保存令牌），显示 GET /api/me 的资料，
// 用 chooseAvatar / type="nickname" 修改头像和昵称（PUT /api/me：wx.request 不支持 PATCH）。
const app = getApp()

// 错误统一显示为“说明 (错误码)”：错误码是服务器返回的 code，或 SDK_* 客户端错误。
function describe (err) {
  if (err && err.code) return err.message + ' (' + err.code + ')'
  return String(err)
}

Page({
  data: {
    loading: true,
    user: null,
    avatarUrl: '',
    nicknameDraft: '',
    saving: false,
    error: '',
    notice: ''
  },

  onLoad () {
    return this.refresh()
  },

  // 登录（与 app.js 启动时的登录合并为一次）后读取资料。
  async refresh () {
    this.setData({ loading: true, error: '', notice: '' })
    try {
      await app.client.login()
      const user = await app.client.me()
      this.showUser(user)
      this.setData({ loading: false })
    } catch (err) {
      this.setData({ loading: false, error: describe(err) })
    }
  },

  showUser (user) {
    app.globalData.user = user
    this.setData({ user, avatarUrl: user.avatarUrl || '', nicknameDraft: user.nickname || '' })
  },

  // <button open-type="chooseAvatar">：e.detail.avatarUrl 通常是本地临时文件（http://tmp/…）。
  // 它要先用 wx.uploadFile 传到你的存储换成 https 地址才能保存：PUT /api/me 只接受 https 地址。
  onChooseAvatar (e) {
    const avatarUrl = e.detail.avatarUrl
    this.setData({ avatarUrl, error: '', notice: '' })
    if (!/^https:\/\//.test(avatarUrl)) {
      this.setData({ notice: '头像仅在本机显示：上传到你的存储后再保存其 https 地址' })
      return
    }
    return this.saveProfile({ avatarUrl })
  },

  onNicknameInput (e) {
    this.setData({ nicknameDraft: e.detail.value })
  },

  // <form bindsubmit>：type="nickname" 的输入经过微信的安全检测，提交时读表单里的值最可靠。
  saveNickname (e) {
    const value = e && e.detail && e.detail.value && typeof e.detail.value.nickname === 'string'
      ? e.detail.value.nickname
      : this.data.nicknameDraft
    return this.saveProfile({ nickname: value })
  },

  async saveProfile (patch) {
    this.setData({ saving: true, error: '', notice: '' })
    try {
      const user = await app.client.updateMe(patch)
      this.showUser(user)
      this.setData({ saving: false, notice: '已保存' })
    } catch (err) {
      this.setData({ saving: false, error: describe(err) })
    }
  },

  // POST /api/logout：令牌在服务器端立即失效。
  async logout () {
    try {
      await app.client.logout()
    } catch (err) {
      this.setData({ error: describe(err) })
    }
    app.globalData.user = null
    this.setData({ user: null, avatarUrl: '', nicknameDraft: '', notice: '' })
  }
})
