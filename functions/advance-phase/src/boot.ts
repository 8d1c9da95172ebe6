// What `npm start` runs (dist/index.js). It loads the bundled function, dist/main.cjs, with the
// V8 code cache that `npm run build` writes next to it, so a cold start deserializes compiled
// code instead of parsing ~1.6 MB of JavaScript. V8 rejects a cache made by another Node version
// or with other flags; the function then compiles as usual and says so once on stderr.
// The cache is only ever written together with its bundle (scripts/build.mjs), never at run time.
import { readFileSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const file = join(dirname(fileURLToPath(import.meta.url)), 'main.cjs');
const cacheFile = `${file}.cache`;

function readCache(): Buffer | undefined {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

// Set by the build's warm-up run: on exit the cache holds every function that run compiled.
const writeCacheTo = process.env['ADVANCE_PHASE_WRITE_CODE_CACHE'];
const cachedData = writeCacheTo ? undefined : readCache();
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
if (writeCacheTo)
  process.once('exit', () => {
    writeFileSync(writeCacheTo, script.createCachedData());
  });
else if (cachedData === undefined)
  process.stderr.write(`no code cache at ${cacheFile}: compiling (run npm run build)\n`);
else if (script.cachedDataRejected) process.stderr.write(`code cache ${cacheFile} rejected by this Node: compiling\n`);

const mod = new Module(file);
mod.filename = file;
const wrapper = script.runInThisContext() as (
  exports: unknown,
  require: NodeJS.Require,
  module: Module,
  filename: string,
  dirname: string,
) => void;
wrapper(mod.exports, createRequire(file), mod, file, dirname(file));
