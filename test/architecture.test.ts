/**
 * The dependency rule of DESIGN.md §3: the planes share only contracts/; the gateway may use
 * policies/; the control plane only the pure schema.ts files of policies/; contracts/ imports
 * nothing of ours.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  const full = join(root, dir);
  try {
    statSync(full);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of readdirSync(full)) {
    const path = join(full, name);
    if (statSync(path).isDirectory()) out.push(...sources(relative(root, path)));
    else if (/\.tsx?$/.test(name)) out.push(path);
  }
  return out;
}

function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2] ?? '');
  return specifiers.filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(dirname(file), s)));
}

function violations(dir: string, allowed: (target: string) => boolean): string[] {
  return sources(dir).flatMap((file) =>
    localImports(file)
      .filter((target) => !allowed(target))
      .map((target) => `${relative(root, file)} -> ${target}`),
  );
}

/**
 * The embedded launcher (`npm start`) runs both planes in one process (DESIGN §2), so it is
 * their composition root: the one file allowed to import from both. Nothing imports it.
 */
const COMPOSITION_ROOT = 'gateway/demo/start.ts';

describe('dependency rule', () => {
  it('contracts/ imports only contracts/', () => {
    assert.deepEqual(violations('contracts', (t) => t.startsWith('contracts/')), []);
  });
  it('policies/ imports only policies/ and contracts/', () => {
    assert.deepEqual(violations('policies', (t) => t.startsWith('policies/') || t.startsWith('contracts/')), []);
  });
  it('gateway/ never imports control-plane/', () => {
    const found = violations('gateway', (t) => !t.startsWith('control-plane/') && (!t.startsWith('test/') || t.startsWith('test/simulators/')));
    assert.deepEqual(
      found.filter((v) => !(v.startsWith(`${COMPOSITION_ROOT} -> control-plane/`))),
      [],
    );
  });
  it('the composition root is imported by nothing', () => {
    const root = COMPOSITION_ROOT.replace(/\.ts$/, '');
    const importers = ['contracts', 'policies', 'gateway', 'control-plane', 'test'].flatMap((dir) => violations(dir, (t) => t.replace(/\.js$/, '') !== root));
    assert.deepEqual(importers, []);
  });
  it('control-plane/ never imports gateway/, and of policies/ only schema.ts files', () => {
    assert.deepEqual(
      violations('control-plane', (t) => !t.startsWith('gateway/') && (!t.startsWith('policies/') || /\/schema(\.js)?$/.test(t))),
      [],
    );
  });
});
