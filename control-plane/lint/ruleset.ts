/**
 * @module The governance ruleset a contract meets before review: Spectral's OpenAPI rules
 * (`oas`, recommended — a valid 3.0 / 3.1 document, unique operationIds, …) plus Gatehouse's
 * own rules. `error` blocks submission (422 contract.lint_failed); `warn` and `info` are shown.
 */
import type { RulesetDefinition } from '@stoplight/spectral-core';
import { oas } from '@stoplight/spectral-rulesets';
import { errorResponses, noSecretExamples, operationSecurityScopes, requestObjectClosed, requestStringMaxLength, safePatterns } from './rules.js';

/**
 * Why each severity:
 * - `operation-security-scopes` (error): an operation with no security at all, or an OAuth 2 /
 *   OpenID Connect requirement without scopes, leaves the rbac policy nothing to enforce.
 * - `operation-public` (warn): `security: []` or `{}` is how a contract says "public"; shown so
 *   reviewers see it, not blocked (health checks are public on purpose).
 * - `error-responses` (warn): the gateway itself answers 400/401/403/429 on every operation, so a
 *   contract that declares none is under-documented, not unsafe.
 * - `request-string-max-length` (error): unbounded strings are the cheapest way to make the
 *   gateway validate (and an upstream store) megabytes.
 * - `request-object-closed` (warn): open objects are sometimes deliberate (and `allOf`
 *   composition in 3.0 cannot close them); saying so explicitly is asked for, not required.
 * - `safe-patterns` (error): the gateway refuses such a snapshot at publish anyway; this says so
 *   at submit.
 * - `no-secret-examples` (error): a published contract is read by every consumer.
 */
export const gatehouseRuleset: RulesetDefinition = {
  extends: [[oas as RulesetDefinition, 'recommended']],
  rules: {
    'operation-security-scopes': {
      description: 'Every operation is protected (its own security or the document-level one) and OAuth 2 / OpenID Connect requirements list scopes.',
      severity: 'error',
      message: '{{error}}',
      given: '$',
      resolved: false,
      then: { function: operationSecurityScopes, functionOptions: { report: 'missing' } },
    },
    'operation-public': {
      description: 'Operations open to anonymous callers (security: [] or a {} requirement) are pointed out.',
      severity: 'warn',
      message: '{{error}}',
      given: '$',
      resolved: false,
      then: { function: operationSecurityScopes, functionOptions: { report: 'public' } },
    },
    'error-responses': {
      description: 'Every operation declares a 4xx, 4XX or default response.',
      severity: 'warn',
      message: '{{error}}',
      given: '$',
      resolved: false,
      then: { function: errorResponses },
    },
    'request-string-max-length': {
      description: 'Strings in request bodies are bounded: maxLength, enum/const, a bounded format, or an anchored finite pattern.',
      severity: 'error',
      message: '{{error}}',
      given: '$',
      resolved: false,
      then: { function: requestStringMaxLength },
    },
    'request-object-closed': {
      description: 'Objects in request bodies set additionalProperties (or unevaluatedProperties) explicitly.',
      severity: 'warn',
      message: '{{error}}',
      given: '$',
      resolved: false,
      then: { function: requestObjectClosed },
    },
    'safe-patterns': {
      description: 'Every pattern is shown free of catastrophic backtracking by recheck.',
      severity: 'error',
      message: '{{error}}',
      given: '$',
      resolved: false,
      then: { function: safePatterns },
    },
    'no-secret-examples': {
      description: 'No example, examples or default value looks like a credential.',
      severity: 'error',
      message: '{{error}}',
      given: '$',
      resolved: false,
      then: { function: noSecretExamples },
    },
  },
};
