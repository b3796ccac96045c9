/**
 * @module An organisation's ruleset file (`LINT_RULESET_FILE`, YAML or JSON), read at start:
 * rules in Spectral's format whose `then.function` names one of Spectral's core functions
 * (`truthy`, `pattern`, `schema`, …). Nothing is loaded from elsewhere: no `extends` of remote
 * rulesets and no custom JavaScript, so a ruleset file cannot run code in the control plane.
 * A bad file stops the start with a message naming what is wrong.
 */
import { readFileSync } from 'node:fs';
import type { RuleDefinition } from '@stoplight/spectral-core';
import * as coreFunctions from '@stoplight/spectral-functions';
import { parse as parseYaml } from 'yaml';
import type { RulesetExtension } from './lint.js';

const SEVERITIES = new Set(['error', 'warn', 'info', 'hint', 'off']);
const FUNCTIONS: Readonly<Record<string, unknown>> = Object.fromEntries(
  ['alphabetical', 'casing', 'defined', 'enumeration', 'falsy', 'length', 'pattern', 'schema', 'truthy', 'undefined', 'unreferencedReusableObject', 'xor'].map((name) => [name, (coreFunctions as Record<string, unknown>)[name]]),
);

export class RulesetFileError extends Error {
  override readonly name = 'RulesetFileError';
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function thenOf(rule: string, then: unknown): unknown {
  if (Array.isArray(then)) return then.map((one) => thenOf(rule, one));
  if (!isObject(then) || typeof then.function !== 'string') throw new RulesetFileError(`rule ${rule}: then.function must name a core function`);
  const fn = FUNCTIONS[then.function];
  if (fn === undefined) throw new RulesetFileError(`rule ${rule}: unknown function "${then.function}" (core functions: ${Object.keys(FUNCTIONS).join(', ')})`);
  return { ...then, function: fn };
}

/**
 * @example
 * const extend = parseRulesetExtension(`rules:\n  error-responses: error\n`);
 * await lintContract(contract, { extend });
 */
export function parseRulesetExtension(text: string): RulesetExtension {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new RulesetFileError(`not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!isObject(document) || !isObject(document.rules)) throw new RulesetFileError('needs a "rules" object');
  const unknown = Object.keys(document).filter((key) => key !== 'rules' && key !== 'aliases');
  if (unknown.length > 0) throw new RulesetFileError(`unsupported keys ${unknown.join(', ')} (only rules and aliases; no extends, no custom functions)`);
  const rules: NonNullable<RulesetExtension['rules']> = {};
  for (const [name, rule] of Object.entries(document.rules)) {
    if (typeof rule === 'boolean') rules[name] = rule;
    else if (typeof rule === 'string') {
      if (!SEVERITIES.has(rule)) throw new RulesetFileError(`rule ${name}: severity must be one of ${[...SEVERITIES].join(', ')}`);
      rules[name] = rule as 'error';
    } else if (isObject(rule)) {
      if (typeof rule.given !== 'string' && !Array.isArray(rule.given)) throw new RulesetFileError(`rule ${name}: needs "given" (a JSONPath)`);
      if (rule.severity !== undefined && !SEVERITIES.has(String(rule.severity))) throw new RulesetFileError(`rule ${name}: severity must be one of ${[...SEVERITIES].join(', ')}`);
      rules[name] = { ...rule, then: thenOf(name, rule.then) } as unknown as RuleDefinition;
    } else throw new RulesetFileError(`rule ${name}: must be a severity, a boolean or a rule object`);
  }
  return { rules, ...(isObject(document.aliases) ? { aliases: document.aliases as Record<string, string[]> } : {}) };
}

/**
 * @example
 * const extend = env.LINT_RULESET_FILE ? loadRulesetFile(env.LINT_RULESET_FILE) : undefined;
 */
export function loadRulesetFile(path: string): RulesetExtension {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new RulesetFileError(`LINT_RULESET_FILE ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return parseRulesetExtension(text);
  } catch (error) {
    throw new RulesetFileError(`LINT_RULESET_FILE ${path}: ${(error as Error).message}`);
  }
}
