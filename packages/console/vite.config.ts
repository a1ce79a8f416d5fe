// The console's build (`vite build` → dist/, served by the gateway at /console/) and its dev server
// (`pnpm --filter @weapp/console dev`), which proxies the API and the socket to a running gateway so the
// app is same-origin as in production (its cookie is SameSite=Strict and the CSP says connect-src 'self').
import preact from '@preact/preset-vite'
import { defineConfig } from 'vite'

const gateway = process.env.CONSOLE_GATEWAY ?? 'http://127.0.0.1:8080'

export default defineConfig({
  base: '/console/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2022',
    // The CSP allows no data: scripts or styles: every asset is a file of its own.
    assetsInlineLimit: 0,
    // Vite's preload helper would be inlined code of its own; one entry chunk needs none.
    modulePreload: { polyfill: false }
  },
  server: {
    proxy: {
      // The gateway checks Origin on state-changing console requests: the proxy presents the gateway's own.
      '/api': { target: gateway, changeOrigin: true, headers: { origin: gateway } },
      '/console/ws': { target: gateway.replace(/^http/, 'ws'), ws: true, changeOrigin: true, headers: { origin: gateway } }
    }
  }
})
