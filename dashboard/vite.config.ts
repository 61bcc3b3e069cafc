import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

// The dashboard is a static single-page app: built into dist/dashboard and served by Postlog itself
// (app/roles/dashboard.ts), never from a CDN. Nothing inline: the CSP allows scripts and styles from
// 'self' only, so Vite must not inline its module preload polyfill or small assets.
export default defineConfig({
  root: here,
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: `${here}../dist/dashboard`,
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    // the app is one bundle (161 kB, 55 kB gzipped): a warning past 200 kB says it grew a lot; what a cold load
    // costs is measured by `npm run bench -- dashboard-load`
    chunkSizeWarningLimit: 200,
    sourcemap: false,
  },
});
