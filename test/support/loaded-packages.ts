/**
 * @module Preload (`node --import`) for footprint tests: on SIGUSR2 the process prints which
 * npm packages it has loaded, as `LOADED ["name", ...]` on stderr. CommonJS packages (all the
 * heavy ones here) sit in the require cache whether `import` or `require` loaded them.
 */
import { createRequire } from 'node:module';

const cache = createRequire(import.meta.url).cache;

process.on('SIGUSR2', () => {
  const names = new Set<string>();
  for (const path of Object.keys(cache)) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
    if (match?.[1] !== undefined) names.add(match[1]);
  }
  process.stderr.write(`LOADED ${JSON.stringify([...names].sort())}\n`);
});
