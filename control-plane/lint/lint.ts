/**
 * @module The governance lint of a contract: Spectral run with the Gatehouse ruleset (optionally
 * extended by an organisation's), its diagnostics turned into findings with a JSON Pointer.
 * External `$ref`s are never fetched: a contract must not make the control plane read files or
 * call URLs.
 */
import { Spectral, type HumanReadableDiagnosticSeverity, type ISpectralDiagnostic, type RuleDefinition, type RulesetDefinition } from '@stoplight/spectral-core';
import { Resolver } from '@stoplight/spectral-ref-resolver';
import { escapePointerToken, isJsonObject, OPENAPI_METHODS } from '../../contracts/index.js';
import { gatehouseRuleset } from './ruleset.js';

export type LintSeverity = 'error' | 'warn' | 'info' | 'hint';

export interface LintFinding {
  /** The rule's name, e.g. `request-string-max-length` or Spectral's `oas3-schema`. */
  rule: string;
  severity: LintSeverity;
  message: string;
  /** RFC 6901 JSON Pointer into the contract (`""` for the document). */
  location: string;
  /** When the location is inside one operation. */
  operationId?: string;
}

export interface LintReport {
  errors: number;
  warnings: number;
  /** Errors first, then warnings, info and hints; by location within each. */
  findings: LintFinding[];
}

/**
 * An organisation's additions to the Gatehouse ruleset, in Spectral's ruleset format: more
 * rules, existing ones re-graded (`'error-responses': 'error'`) or switched off (`'off'`), and
 * more rulesets to extend.
 */
export interface RulesetExtension {
  rules?: Record<string, RuleDefinition | HumanReadableDiagnosticSeverity | boolean>;
  extends?: RulesetDefinition[];
  aliases?: Record<string, string[]>;
}

export interface LintOptions {
  /** Applied over the Gatehouse ruleset; default none. */
  extend?: RulesetExtension;
}

const SEVERITIES: readonly LintSeverity[] = ['error', 'warn', 'info', 'hint'];

/** A resolver that follows only `#/…` references: nothing is read from disk or the network. */
const localOnly = (): Resolver => new Resolver({ dereferenceRemote: false });

function operationIdAt(contract: Record<string, unknown>, path: readonly (string | number)[]): string | undefined {
  if (path[0] !== 'paths' || path.length < 3 || !(OPENAPI_METHODS as readonly unknown[]).includes(path[2])) return undefined;
  const item = isJsonObject(contract.paths) ? contract.paths[String(path[1])] : undefined;
  const operation = isJsonObject(item) ? item[String(path[2])] : undefined;
  return isJsonObject(operation) && typeof operation.operationId === 'string' ? operation.operationId : undefined;
}

function findingOf(contract: Record<string, unknown>, diagnostic: ISpectralDiagnostic): LintFinding {
  const operationId = operationIdAt(contract, diagnostic.path);
  return {
    rule: String(diagnostic.code),
    severity: SEVERITIES[diagnostic.severity] ?? 'info',
    message: diagnostic.message,
    location: diagnostic.path.map((token) => `/${escapePointerToken(String(token))}`).join(''),
    ...(operationId === undefined ? {} : { operationId }),
  };
}

/**
 * Lints an OpenAPI 3.0 / 3.1 contract (already parsed, as the version stores it).
 *
 * @param contract The contract document.
 * @param options.extend An organisation's ruleset, extending (and able to re-grade) Gatehouse's; default none.
 * @example
 * const report = await lintContract(contract, { extend: { rules: { 'error-responses': 'error' } } });
 * if (report.errors > 0) throw new ControlPlaneError('contract.lint_failed', '…', { extensions: report });
 */
export async function lintContract(contract: Record<string, unknown>, options: LintOptions = {}): Promise<LintReport> {
  const spectral = new Spectral({ resolver: localOnly() });
  const extend = options.extend;
  spectral.setRuleset(
    extend === undefined
      ? gatehouseRuleset
      : { extends: [gatehouseRuleset, ...(extend.extends ?? [])], rules: extend.rules ?? {}, ...(extend.aliases === undefined ? {} : { aliases: extend.aliases }) },
  );
  const diagnostics = await spectral.run(structuredClone(contract));
  const seen = new Set<string>();
  const findings = diagnostics
    .map((diagnostic) => findingOf(contract, diagnostic))
    .filter((finding) => {
      const id = `${finding.rule}\n${finding.location}\n${finding.message}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    })
    .sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || (a.location < b.location ? -1 : a.location > b.location ? 1 : 0) || (a.rule < b.rule ? -1 : 1));
  return { errors: findings.filter((f) => f.severity === 'error').length, warnings: findings.filter((f) => f.severity === 'warn').length, findings };
}
