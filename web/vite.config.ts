import { defineConfig } from 'vite';

// The storefront is a static site: `vite build` writes web/dist, which the dev server (scripts/storefront.ts)
// and Azure serve as is; its settings come from /config.json at run time, so one build fits every environment.
export default defineConfig({
  root: import.meta.dirname,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline module-preload polyfill: the page's CSP allows scripts from this origin only.
    modulePreload: { polyfill: false },
  },
});
