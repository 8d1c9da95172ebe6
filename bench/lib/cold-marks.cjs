// Preloaded (`node -r`) by the cold-start breakdown in scenarios.ts: when each step of a start
// happens, in ms since the process began, printed as one JSON line on stderr once the first
// answer is sent.
//   nodeReady     Node has bootstrapped and runs user code (the preload itself)
//   codeCacheMs   vm.Script with the code cache: V8 deserializing dist/main.cjs.cache (boot.ts)
//   evaluateMs    the bundle's synchronous evaluation (its modules, up to main()'s first await)
//   listening, request, finish   the server listens, the first request arrives, its answer is sent
// Patching vm.Script and syncing the builtin ESM exports lets boot.ts's `import { Script }` see it.
'use strict';
const http = require('node:http');
const { syncBuiltinESMExports } = require('node:module');
const vm = require('node:vm');

const marks = { nodeReady: performance.now() };
const Script = vm.Script;
vm.Script = class TimedScript extends Script {
  constructor(...args) {
    const t0 = performance.now();
    super(...args);
    marks.codeCacheMs = performance.now() - t0;
    marks.codeCacheRejected = this.cachedDataRejected === true;
  }
  runInThisContext(...args) {
    const wrapper = super.runInThisContext(...args);
    return (...wrapperArgs) => {
      const t0 = performance.now();
      try {
        return wrapper(...wrapperArgs);
      } finally {
        marks.evaluateMs = performance.now() - t0;
      }
    };
  }
};
syncBuiltinESMExports();

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function timedEmit(event, ...args) {
  if ((event === 'listening' || event === 'request') && marks[event] === undefined) {
    marks[event] = performance.now();
    if (event === 'request') {
      args[1].once('finish', () => {
        marks.finish = performance.now();
        process.stderr.write(`cold-marks ${JSON.stringify(marks)}\n`);
      });
    }
  }
  return emit.call(this, event, ...args);
};
