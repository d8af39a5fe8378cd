import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The web app is built into web/dist and served by `skypatrol serve`; `vite` in dev mode
// proxies API calls to a local server on :8080. Everything is bundled: no CDN at run time.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: {
    // Dev mode only: every API prefix goes to a local `skypatrol serve`.
    proxy: Object.fromEntries(
      [
        '/auth',
        '/clues',
        '/web',
        '/tiles',
        '/scenes',
        '/stats',
        '/exports',
        '/patrols',
        '/zones',
        '/detectors',
        '/packets',
        '/users',
        '/ogc',
        '/health',
        '/openapi.json',
      ].map((p) => [p, 'http://127.0.0.1:8080']),
    ),
  },
});
