// npm run build: one minified ESM bundle in dist/ (what `npm start` and the buildpack run).
// Bundling lets esbuild drop the parts of @kubernetes/client-node the function never uses
// (its generated API clients): the cold start loads ~1 MB instead of hundreds of files.
// Splitting keeps client-node in its own chunk, loaded only in real mode.
import { build } from 'esbuild';

await build({
  entryPoints: ['functions/advance-phase/src/index.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: true,
  // Bundled CommonJS (express and friends) calls require() for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
