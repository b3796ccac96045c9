/**
 * @module The policy registry (name → definition) and the pipeline builder: validates each
 * binding's config against the policy's schema, sorts by priority (higher first, ties by
 * name) and leaves the proxy to the caller, which always runs it last.
 */
import type { Ajv } from 'ajv';
import type { PolicyBinding } from '../contracts/index.js';
import { SnapshotCompileError } from './errors.js';
import {
  ROUTER_PRIORITY,
  type AnyPolicyDefinition,
  type EndHook,
  type PolicyDeps,
  type PolicyHandler,
  type PolicyRequest,
  type PolicyResponse,
} from './define-policy.js';
import type { RequestContext } from '../contracts/index.js';

export interface PolicyRegistry {
  get(name: string): AnyPolicyDefinition | undefined;
  names(): string[];
}

/**
 * @example
 * const registry = createPolicyRegistry([accessRecordPolicy, requestHygienePolicy]);
 * registry.get('request-hygiene')?.priority; // 9000
 */
export function createPolicyRegistry(definitions: readonly AnyPolicyDefinition[]): PolicyRegistry {
  const byName = new Map<string, AnyPolicyDefinition>();
  for (const definition of definitions) {
    if (byName.has(definition.name)) throw new TypeError(`policy "${definition.name}" registered twice`);
    byName.set(definition.name, definition);
  }
  return {
    get: (name) => byName.get(name),
    names: () => [...byName.keys()].sort(),
  };
}

export interface CompiledPolicy {
  readonly name: string;
  readonly priority: number;
  readonly handle: PolicyHandler | undefined;
  readonly onEnd: EndHook | undefined;
  readonly needsBody: boolean;
  readonly maxBodyBytes: ((operationId: string) => number) | undefined;
}

export interface BuildPipelineOptions {
  bindings: readonly PolicyBinding[];
  registry: PolicyRegistry;
  deps: PolicyDeps;
  ajv: Ajv;
  /** `gateway`: runs before routing (priority > ROUTER_PRIORITY); `route`: per API version. */
  stage: 'gateway' | 'route';
  /** Policies always present in this stage, with default config unless bound explicitly. */
  always?: readonly string[];
  /** Prefix for problem messages, e.g. `apis[orders].versions[1.2.0]`. */
  where: string;
}

/**
 * Compiles bindings into an ordered list of handlers. Collects every problem and throws one
 * `SnapshotCompileError`, so a bad snapshot is reported whole.
 */
export function buildPipeline(options: BuildPipelineOptions): CompiledPolicy[] {
  const { registry, deps, ajv, stage, where } = options;
  const problems: string[] = [];
  const bindings = [...options.bindings];
  for (const name of options.always ?? []) {
    if (!bindings.some((b) => b.policy === name)) bindings.push({ policy: name, config: {} });
  }
  const seen = new Set<string>();
  const compiled: CompiledPolicy[] = [];
  for (const binding of bindings) {
    const definition = registry.get(binding.policy);
    if (definition === undefined) {
      problems.push(`${where}: unknown policy "${binding.policy}"`);
      continue;
    }
    if (seen.has(definition.name)) {
      problems.push(`${where}: policy "${definition.name}" bound twice`);
      continue;
    }
    seen.add(definition.name);
    const gatewayWide = definition.priority > ROUTER_PRIORITY;
    if ((stage === 'gateway') !== gatewayWide) {
      problems.push(
        `${where}: policy "${definition.name}" (priority ${definition.priority}) belongs to the ` +
          `${gatewayWide ? 'gateway' : 'version'} policies`,
      );
      continue;
    }
    // Validate a copy: ajv fills defaults in place and the snapshot must stay untouched.
    const config: unknown = structuredClone(binding.config);
    const validate = ajv.compile(definition.schema);
    if (!validate(config)) {
      for (const error of validate.errors ?? []) {
        problems.push(`${where}: policy "${definition.name}" config${error.instancePath} ${error.message ?? 'is invalid'}`);
      }
      continue;
    }
    try {
      const instance = definition.create(config, deps);
      compiled.push({
        name: definition.name,
        priority: definition.priority,
        handle: typeof instance === 'function' ? instance : instance.handle,
        onEnd: typeof instance === 'function' ? undefined : instance.onEnd,
        needsBody: definition.needsBody === true,
        maxBodyBytes: typeof instance === 'function' ? undefined : instance.maxBodyBytes,
      });
    } catch (error) {
      problems.push(`${where}: policy "${definition.name}" failed to build: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new SnapshotCompileError(problems);
  return compiled.sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The request handlers of a compiled pipeline, in order. */
export function handlersOf(policies: readonly CompiledPolicy[]): PolicyHandler[] {
  return policies.flatMap((p) => (p.handle === undefined ? [] : [p.handle]));
}

/** The end hooks of a compiled pipeline, in order. */
export function endHooksOf(policies: readonly CompiledPolicy[]): EndHook[] {
  return policies.flatMap((p) => (p.onEnd === undefined ? [] : [p.onEnd]));
}

/** The last step of a pipeline: the proxy (or, later, the async delivery queue). */
export type Terminal = (req: PolicyRequest, res: PolicyResponse, ctx: RequestContext) => void | Promise<void>;

/**
 * Runs handlers in order, then `terminal`. Synchronous handlers cost no promise. After every
 * async step it stops if the client went away or a policy already answered, so nothing is
 * forwarded for a request nobody waits for (the socket-leak bug class in performance.md).
 */
export function runPipeline(
  handlers: readonly PolicyHandler[],
  terminal: Terminal,
  req: PolicyRequest,
  res: PolicyResponse,
  ctx: RequestContext,
  from = 0,
): void | Promise<void> {
  for (let i = from; i < handlers.length; i++) {
    const result = handlers[i]!(req, res, ctx);
    if (result !== undefined) {
      return result.then(() => {
        if (res.writableEnded || req.socket.destroyed) return undefined;
        return runPipeline(handlers, terminal, req, res, ctx, i + 1);
      });
    }
    if (res.writableEnded) return undefined;
  }
  return terminal(req, res, ctx);
}
