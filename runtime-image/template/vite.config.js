// The preview runtime (sync-daemon --exec) sets PORT; the edge proxy reaches
// the dev server on loopback and rewrites Host to localhost:<port>, so Vite's
// host check passes without any allowedHosts entry here.
import { defineConfig } from 'vite'

export default defineConfig({
  server: {
    host: process.env.HOST || '127.0.0.1',
    port: Number(process.env.PORT) || 5173,
    strictPort: true,
  },
})
