// config.js (the tutorial's): the port and the mini-program's AppID/AppSecret come from the environment
// here (the bench gives the simulator's app); the MongoDB settings are gone with connect-mongo, the
// Redis ones (connect-redis) take their place.
module.exports = {
  serverPort: process.env.PORT || '8765',

  // 小程序 appId 和 appSecret
  // 请到 https://mp.weixin.qq.com 获取 AppID 和 AppSecret
  appId: process.env.APP_ID || 'YORU_APP_ID', // 替换成自己的AppID
  appSecret: process.env.APP_SECRET || 'YOUR_APP_SECRET', // 替换成自己的AppSecret

  // 'redis': sessions in Redis (connect-redis), else in the process (express-session's MemoryStore)
  sessionStore: process.env.SESSION_STORE || 'memory',
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  redisPrefix: process.env.SESSION_PREFIX || 'sess:'
}
