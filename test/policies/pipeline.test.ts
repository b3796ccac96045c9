/**
 * The policy contract: declarations checked, order from priority numbers (never list position),
 * configs validated against each schema with defaults filled on a copy, stage rules enforced,
 * and the runner stopping for answered requests.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JSONSchemaType } from 'ajv';
import { createSnapshotAjv } from '../../gateway/snapshot/compile.js';
import {
  buildPipeline,
  createSnapshotScope,
  handlersOf,
  createPolicyRegistry,
  definePolicy,
  runPipeline,
  SnapshotCompileError,
  type PolicyDeps,
  type PolicyHandler,
} from '../../policies/index.js';
import type { RequestContext } from '../../contracts/index.js';

interface TagConfig {
  tag: string;
}
const tagSchema: JSONSchemaType<TagConfig> = {
  type: 'object',
  properties: { tag: { type: 'string', default: 'untagged', description: 'Label.' } },
  required: ['tag'],
  additionalProperties: false,
};

const trail: string[] = [];
function tagPolicy(name: string, priority: number) {
  return definePolicy<TagConfig>({
    name,
    priority,
    schema: tagSchema,
    create: (config) => () => {
      trail.push(`${name}:${config.tag}`);
    },
  });
}

const deps: PolicyDeps = {
  logger: { error() {}, warn() {}, info() {}, debug() {} },
  clock: { now: () => 0 },
  accessLog: { write() {} },
  scope: createSnapshotScope(),
  lasting: createSnapshotScope(),
  redis: undefined,
  version: undefined,
  resolveSecret: () => undefined,
  directory: { byId: new Map(), byClientId: new Map(), byKeyPrefix: new Map(), plans: new Map() },
  ownership: undefined,
  fetch,
  metrics: { counter: () => () => {} },
};

describe('definePolicy', () => {
  it('refuses names that are not kebab-case and the router priority', () => {
    assert.throws(() => tagPolicy('Bad_Name', 10), /kebab-case/);
    assert.throws(() => tagPolicy('at-router', 5000), /priority/);
    assert.throws(() => tagPolicy('fractional', 1.5), /priority/);
  });
});

describe('buildPipeline', () => {
  const registry = createPolicyRegistry([tagPolicy('auth', 1450), tagPolicy('limits', 910), tagPolicy('alpha', 910), tagPolicy('cache', 500), tagPolicy('edge', 9000)]);

  it('orders by priority, higher first, ties by name, whatever the binding order', async () => {
    const bindings = [
      { policy: 'cache', config: {} },
      { policy: 'limits', config: { tag: 'l' } },
      { policy: 'auth', config: { tag: 'a' } },
      { policy: 'alpha', config: {} },
    ];
    const config = structuredClone(bindings);
    const compiled = buildPipeline({ bindings, registry, deps, ajv: createSnapshotAjv(), stage: 'route', where: 'test' });
    assert.deepEqual(compiled.map((p) => p.name), ['auth', 'alpha', 'limits', 'cache']);
    trail.length = 0;
    const handlers = handlersOf(compiled);
    const terminal: PolicyHandler = () => {
      trail.push('proxy');
    };
    await runPipeline(handlers, terminal, { socket: { destroyed: false } } as never, { writableEnded: false } as never, {} as RequestContext);
    assert.deepEqual(trail, ['auth:a', 'alpha:untagged', 'limits:l', 'cache:untagged', 'proxy']);
    assert.deepEqual(bindings, config, 'defaults are filled on a copy, the snapshot is untouched');
  });

  it('reports every problem at once: unknown policy, bad config, wrong stage, duplicates', () => {
    try {
      buildPipeline({
        bindings: [
          { policy: 'nope', config: {} },
          { policy: 'auth', config: { tag: 7 } },
          { policy: 'edge', config: {} },
          { policy: 'cache', config: {} },
          { policy: 'cache', config: {} },
        ],
        registry,
        deps,
        ajv: createSnapshotAjv(),
        stage: 'route',
        where: 'apis[x]',
      });
      assert.fail('expected a compile error');
    } catch (error) {
      assert.ok(error instanceof SnapshotCompileError);
      assert.equal(error.problems.length, 4);
      assert.match(error.problems[0]!, /unknown policy "nope"/);
      assert.match(error.problems[1]!, /"auth" config\/tag must be string/);
      assert.match(error.problems[2]!, /"edge" .* belongs to the gateway policies/);
      assert.match(error.problems[3]!, /"cache" bound twice/);
    }
  });

  it('adds always-on policies with their defaults', () => {
    const compiled = buildPipeline({ bindings: [], registry, deps, ajv: createSnapshotAjv(), stage: 'gateway', always: ['edge'], where: 'gateway' });
    assert.deepEqual(compiled.map((p) => p.name), ['edge']);
  });
});

describe('runPipeline', () => {
  it('stops when a policy answered, and after an async step when the client is gone', async () => {
    const calls: string[] = [];
    const res = { writableEnded: false };
    const answer: PolicyHandler = () => {
      calls.push('answer');
      res.writableEnded = true;
    };
    await runPipeline([answer, () => void calls.push('after')], () => void calls.push('proxy'), { socket: { destroyed: false } } as never, res as never, {} as RequestContext);
    assert.deepEqual(calls, ['answer']);

    calls.length = 0;
    const socket = { destroyed: false };
    const slow: PolicyHandler = async () => {
      calls.push('slow');
      socket.destroyed = true;
    };
    await runPipeline([slow, () => void calls.push('after')], () => void calls.push('proxy'), { socket } as never, { writableEnded: false } as never, {} as RequestContext);
    assert.deepEqual(calls, ['slow']);
  });
});
