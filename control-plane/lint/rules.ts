/**
 * @module Gatehouse's own governance rules as Spectral functions. Each walks the contract as
 * written (unresolved, so a finding points where the fix goes: the component, not every use
 * of it), follows local `$ref`s itself, and reports each location once.
 */
import { createRulesetFunction, type IFunctionResult } from '@stoplight/spectral-core';
import { checkSync } from 'recheck';
import { OPENAPI_METHODS, isJsonObject, type JsonObject } from '../../contracts/index.js';

type Path = (string | number)[];

/** RFC 6901 pointer (`/components/schemas/A`) → path segments. */
function pathOf(pointer: string): Path {
  if (pointer === '' || pointer === '#') return [];
  return pointer
    .replace(/^#/, '')
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Follows local `$ref`s (at most 32 hops); undefined for a dangling or external one (oas rules report those). */
function follow(doc: JsonObject, value: unknown, path: Path): { value: JsonObject; path: Path } | undefined {
  let current = value;
  let at = path;
  for (let hops = 0; hops < 32; hops++) {
    if (!isJsonObject(current)) return undefined;
    const ref = current.$ref;
    if (typeof ref !== 'string') return { value: current, path: at };
    if (!ref.startsWith('#')) return undefined;
    at = pathOf(ref);
    current = at.reduce<unknown>((node, key) => (isJsonObject(node) ? node[key as string] : Array.isArray(node) ? node[Number(key)] : undefined), doc);
  }
  return undefined;
}

interface Operation {
  operation: JsonObject;
  path: Path;
}

function operationsOf(doc: JsonObject): Operation[] {
  const out: Operation[] = [];
  if (!isJsonObject(doc.paths)) return out;
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!isJsonObject(item)) continue;
    for (const method of OPENAPI_METHODS) {
      const operation = item[method];
      if (isJsonObject(operation)) out.push({ operation, path: ['paths', template, method] });
    }
  }
  return out;
}

const key = (path: Path): string => JSON.stringify(path);

/**
 * Every schema reachable from the operations' request bodies, once each (by location),
 * skipping `readOnly` properties: a client never sends them.
 */
function requestSchemas(doc: JsonObject): { schema: JsonObject; path: Path }[] {
  const out: { schema: JsonObject; path: Path }[] = [];
  const seen = new Set<string>();
  const visit = (value: unknown, path: Path): void => {
    const found = follow(doc, value, path);
    if (found === undefined || seen.has(key(found.path))) return;
    seen.add(key(found.path));
    const { value: schema, path: at } = found;
    if (schema.readOnly === true) return;
    out.push({ schema, path: at });
    for (const word of ['properties', 'patternProperties'] as const) {
      const members = schema[word];
      if (isJsonObject(members)) for (const [name, member] of Object.entries(members)) visit(member, [...at, word, name]);
    }
    for (const word of ['items', 'additionalProperties', 'not', 'contains', 'unevaluatedProperties'] as const) {
      if (isJsonObject(schema[word])) visit(schema[word], [...at, word]);
    }
    for (const word of ['allOf', 'oneOf', 'anyOf', 'prefixItems'] as const) {
      const list = schema[word];
      if (Array.isArray(list)) list.forEach((member, i) => visit(member, [...at, word, i]));
    }
  };
  for (const { operation, path } of operationsOf(doc)) {
    const body = follow(doc, operation.requestBody, [...path, 'requestBody']);
    if (body === undefined || !isJsonObject(body.value.content)) continue;
    for (const [media, content] of Object.entries(body.value.content)) {
      if (isJsonObject(content) && content.schema !== undefined) visit(content.schema, [...body.path, 'content', media, 'schema']);
    }
  }
  return out;
}

const typesOf = (schema: JsonObject): unknown[] => (Array.isArray(schema.type) ? schema.type : [schema.type]);

/** Formats whose values have a bounded length. `email` and `uri` are not (RFC 5321 allows 254+, URIs have no limit). */
const BOUNDED_FORMATS: ReadonlySet<string> = new Set(['date', 'date-time', 'time', 'uuid', 'ipv4', 'ipv6']);

/**
 * Whether a pattern alone bounds the length: anchored at both ends, no unbounded quantifier
 * (`*`, `+`, `{n,}`) and no top-level alternation that escapes the anchors.
 */
export function patternBoundsLength(pattern: string): boolean {
  const flat = pattern.replace(/\\./g, 'x').replace(/\[[^\]]*\]/g, 'x');
  if (!flat.startsWith('^') || !flat.endsWith('$')) return false;
  if (/[*+]|\{\d+,\}/.test(flat)) return false;
  let depth = 0;
  for (const char of flat) {
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === '|' && depth === 0) return false;
  }
  return true;
}

/** Strings a client sends are bounded: `maxLength`, an `enum` / `const`, a bounded `format`, or an anchored finite pattern. */
export const requestStringMaxLength = createRulesetFunction<JsonObject, null>({ input: null, options: null }, (doc) => {
  const results: IFunctionResult[] = [];
  for (const { schema, path } of requestSchemas(doc)) {
    if (!typesOf(schema).includes('string')) continue;
    const bounded =
      typeof schema.maxLength === 'number' ||
      Array.isArray(schema.enum) ||
      'const' in schema ||
      (typeof schema.format === 'string' && BOUNDED_FORMATS.has(schema.format)) ||
      (typeof schema.pattern === 'string' && patternBoundsLength(schema.pattern));
    if (!bounded) results.push({ message: 'A request-body string needs maxLength (or an enum, a bounded format such as uuid or date-time, or an anchored finite pattern).', path });
  }
  return results;
});

/** Objects a client sends say whether they accept unknown members: `additionalProperties` (or 3.1 `unevaluatedProperties`) set explicitly. */
export const requestObjectClosed = createRulesetFunction<JsonObject, null>({ input: null, options: null }, (doc) => {
  const results: IFunctionResult[] = [];
  for (const { schema, path } of requestSchemas(doc)) {
    const isObject = typesOf(schema).includes('object') || (schema.type === undefined && isJsonObject(schema.properties));
    if (!isObject) continue;
    if ('additionalProperties' in schema || 'unevaluatedProperties' in schema) continue;
    results.push({ message: 'A request-body object should set additionalProperties: false to refuse unknown members, or true / a schema to accept them deliberately.', path });
  }
  return results;
});

/** Operations declare a 4xx (or 4XX, or default) response: the errors clients must handle. */
export const errorResponses = createRulesetFunction<JsonObject, null>({ input: null, options: null }, (doc) => {
  const results: IFunctionResult[] = [];
  for (const { operation, path } of operationsOf(doc)) {
    const codes = isJsonObject(operation.responses) ? Object.keys(operation.responses) : [];
    if (!codes.some((code) => /^4([0-9]{2}|XX)$/i.test(code) || code === 'default')) {
      results.push({ message: 'The operation declares no error response (4xx, 4XX or default).', path: [...path, 'responses'] });
    }
  }
  return results;
});

/**
 * Every operation is protected and says with which scopes: its own `security`, else the
 * document's. An OAuth 2 / OpenID Connect requirement without scopes is an error; an operation
 * with no security at all is an error; `security: []` on the operation (deliberately public)
 * and an empty requirement `{}` (anonymous allowed) are reported as warnings by the rule
 * `gatehouse-operation-public`.
 */
export const operationSecurityScopes = createRulesetFunction<JsonObject, { report: 'missing' | 'public' }>(
  { input: null, options: { type: 'object', properties: { report: { enum: ['missing', 'public'] } }, required: ['report'], additionalProperties: false } },
  (doc, options) => {
    const results: IFunctionResult[] = [];
    const schemes = isJsonObject(doc.components) && isJsonObject(doc.components.securitySchemes) ? doc.components.securitySchemes : {};
    for (const { operation, path } of operationsOf(doc)) {
      const own = Array.isArray(operation.security);
      const security = own ? operation.security : doc.security;
      const at: Path = own ? [...path, 'security'] : ['security'];
      if (!Array.isArray(security) || (security.length === 0 && !own)) {
        if (options.report === 'missing') results.push({ message: 'The operation declares no security, and no document-level security applies.', path });
        continue;
      }
      if (security.length === 0) {
        if (options.report === 'public') results.push({ message: 'The operation is public (security: []); make sure that is deliberate.', path: at });
        continue;
      }
      security.forEach((requirement, i) => {
        if (!isJsonObject(requirement)) return;
        if (Object.keys(requirement).length === 0) {
          if (options.report === 'public') results.push({ message: 'A security requirement {} lets callers in anonymously.', path: [...at, i] });
          return;
        }
        if (options.report !== 'missing') return;
        for (const [name, scopes] of Object.entries(requirement)) {
          const scheme = follow(doc, schemes[name], ['components', 'securitySchemes', name])?.value;
          const scoped = scheme?.type === 'oauth2' || scheme?.type === 'openIdConnect';
          if (scoped && (!Array.isArray(scopes) || scopes.length === 0)) {
            results.push({ message: `The ${String(scheme.type)} requirement "${name}" lists no scopes.`, path: [...at, i, name] });
          }
        }
      });
      // Only the own declaration is reported per operation; the document's is reported once.
    }
    const unique = new Map(results.map((result) => [key(result.path ?? []), result]));
    return [...unique.values()];
  },
);

/** Budget per pattern, as the contract-validation policy's ReDoS gate allows. */
const CHECK_TIMEOUT_MS = 2000;

/**
 * Every `pattern` in the contract is shown safe by recheck, with the `u` flag ajv compiles it
 * with — the same verdict the gateway's ReDoS gate (policies/contract-validation/redos.ts)
 * reaches when it compiles the snapshot, told at submit instead of at publish.
 */
export const safePatterns = createRulesetFunction<JsonObject, null>({ input: null, options: null }, (doc) => {
  const results: IFunctionResult[] = [];
  const verdicts = new Map<string, string | null>();
  const judge = (source: string): string | null => {
    try {
      const diagnostics = checkSync(source, 'u', { timeout: CHECK_TIMEOUT_MS });
      if (diagnostics.status === 'safe') return null;
      if (diagnostics.status === 'vulnerable') return `risks catastrophic backtracking (${diagnostics.complexity.summary}); rewrite it without nested or overlapping quantifiers`;
      return diagnostics.error.kind === 'timeout' ? `was not proven safe within ${CHECK_TIMEOUT_MS} ms; use a simpler pattern` : `could not be analysed (${diagnostics.error.kind}); use a simpler pattern`;
    } catch (error) {
      return `could not be analysed (${(error as Error).message})`;
    }
  };
  const walk = (node: unknown, path: Path, inMap: boolean): void => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...path, i], false));
    if (!isJsonObject(node)) return;
    for (const [name, value] of Object.entries(node)) {
      // Under `properties` / `examples` a key named "pattern" is a member name, not the keyword.
      if (name === 'pattern' && typeof value === 'string' && !inMap) {
        if (!verdicts.has(value)) verdicts.set(value, judge(value));
        const why = verdicts.get(value);
        if (why !== null && why !== undefined) results.push({ message: `Pattern ${JSON.stringify(value)} ${why}.`, path: [...path, name] });
      }
      if (name === 'example' || name === 'default' || name === 'const' || name === 'enum') continue;
      walk(value, [...path, name], !inMap && (name === 'properties' || name === 'examples' || name === 'patternProperties' || name === 'schemas'));
    }
  };
  walk(doc, [], false);
  return results;
});

/** Names of members whose values are credentials. */
const SECRET_NAME = /pass(word|wd|phrase)?$|secret|token|api[-_]?key|private[-_]?key|credential|authorization/i;
/** Values that plainly stand for a credential without being one. */
const PLACEHOLDER = /^(|\s+|<[^>]*>|\{\{[^}]*\}\}|\$\{[^}]*\}|[x*.#-]+|\.\.\.|changeme|change-me|redacted|example|sample|placeholder|string|secret|password|token|none|null|your[-_ ].*|.*example.*|.*redacted.*|.*placeholder.*)$/i;
/** Shapes of real credentials, whatever the member is called. */
const SECRET_SHAPES: readonly { name: string; pattern: RegExp }[] = [
  { name: 'a private key or certificate block', pattern: /-----BEGIN [A-Z0-9 ]+-----/ },
  { name: 'a JSON Web Token', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/ },
  { name: 'a live payment key', pattern: /\b(sk|rk|pk)_live_[A-Za-z0-9]{8,}/ },
  { name: 'an AWS access key id', pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { name: 'a long hexadecimal secret', pattern: /\b[0-9a-fA-F]{40,}\b/ },
];
/** A long base64 / base64url run mixing cases and digits: how random keys look. */
function looksLikeBase64Secret(text: string): boolean {
  return (text.match(/[A-Za-z0-9+/_-]{40,}={0,2}/g) ?? []).some((run) => /[a-z]/.test(run) && /[A-Z]/.test(run) && /[0-9]/.test(run));
}

/** What makes a value look like a secret; undefined when it does not. */
function secretShape(value: string, memberName: string | undefined): string | undefined {
  for (const shape of SECRET_SHAPES) if (shape.pattern.test(value)) return shape.name;
  if (looksLikeBase64Secret(value)) return 'a long random-looking string';
  if (memberName !== undefined && SECRET_NAME.test(memberName) && !PLACEHOLDER.test(value.trim())) return `a value for "${memberName}"`;
  return undefined;
}

/**
 * No example, `examples` or `default` holds something shaped like a credential, nor a real-looking
 * value for a member named like one (password, secret, token, api key). Messages never repeat the
 * value: the finding must not spread the secret it reports.
 */
export const noSecretExamples = createRulesetFunction<JsonObject, null>({ input: null, options: null }, (doc) => {
  const results: IFunctionResult[] = [];
  const scan = (value: unknown, path: Path, memberName: string | undefined): void => {
    if (typeof value === 'string') {
      const shape = secretShape(value, memberName);
      if (shape !== undefined) results.push({ message: `The example looks like ${shape}; use a placeholder such as "<redacted>".`, path });
      return;
    }
    if (Array.isArray(value)) value.forEach((item, i) => scan(item, [...path, i], memberName));
    else if (isJsonObject(value)) for (const [name, member] of Object.entries(value)) scan(member, [...path, name], name);
  };
  const walk = (node: unknown, path: Path, owner: string | undefined, members: boolean): void => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...path, i], owner, false));
    if (!isJsonObject(node)) return;
    if (members) {
      // A `properties` map: each member schema is named by its key.
      for (const [name, value] of Object.entries(node)) walk(value, [...path, name], name, false);
      return;
    }
    // A parameter or header's name, or the property this schema describes, names its examples.
    const named = typeof node.name === 'string' ? node.name : owner;
    for (const [name, value] of Object.entries(node)) {
      if (name === 'example' || name === 'default' || name === 'x-example') scan(value, [...path, name], named);
      else if (name === 'examples' && Array.isArray(value)) scan(value, [...path, name], named);
      else if (name === 'examples' && isJsonObject(value)) {
        for (const [label, example] of Object.entries(value)) {
          if (isJsonObject(example) && 'value' in example) scan(example.value, [...path, name, label, 'value'], named);
        }
      } else walk(value, [...path, name], name === 'items' ? owner : undefined, name === 'properties');
    }
  };
  walk(doc, [], undefined, false);
  return results;
});
