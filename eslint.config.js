// Lint: neostandard (standard style for TypeScript), as fastify core and fastify/demo use.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true
  }),
  {
    // Build output: examples/miniprogram/utils/weapp-sdk.js is the SDK's bundle (packages/weapp-sdk).
    ignores: ['**/dist/**', '**/dist.building-*/**', '**/dist.old-*/**', '.run/**', '**/coverage/**', '**/.tap/**', 'bench/.scratch/**', 'examples/miniprogram/utils/weapp-sdk.js']
  },
  {
    // `void promise` marks a promise deliberately not awaited (a floating promise is otherwise a bug).
    rules: { 'no-void': ['error', { allowAsStatement: true }] }
  },
  {
    // The example mini-program runs in WeChat's JS engine: these are its globals.
    files: ['examples/miniprogram/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { wx: 'readonly', App: 'readonly', Page: 'readonly', getApp: 'readonly', Component: 'readonly' } }
  }
]
