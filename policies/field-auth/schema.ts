/** @module Config schema of `field-auth` (pure data). */
import type { JSONSchemaType } from 'ajv';

/** Who a rule applies to and what it hides or refuses; every filter given must match. */
export interface FieldAuthRule {
  plans?: string[];
  consumers?: string[];
  models?: string[];
  hide: string[];
  denyWrite: string[];
}

export interface FieldAuthConfig {
  rules: FieldAuthRule[];
  refuseReadsNamingHidden: boolean;
  maxResponseBytes: number;
}

const names = (description: string) =>
  ({
    type: 'array',
    items: { type: 'string', minLength: 1, maxLength: 200 },
    maxItems: 500,
    uniqueItems: true,
    description,
  }) as const;

export const fieldAuthSchema: JSONSchemaType<FieldAuthConfig> = {
  type: 'object',
  description:
    'Field-level authorization (OWASP API3): per plan, consumer and upstream model, response fields removed from every JSON answer and request fields a consumer may not set (mass assignment: 403 `access.field_denied` before any upstream call).',
  properties: {
    rules: {
      type: 'array',
      maxItems: 200,
      default: [],
      description:
        'Each rule applies to a request when every filter it gives matches (`plans`: the subscription plan; `consumers`: the consumer id; `models`: the upstream model or object, e.g. `account.move`, `Invoice__c`, `ticket`); absent filters match everything. `hide`: fields removed from the answer wherever they occur; `denyWrite`: fields the request may not set. Field names are the upstream\'s, compared case-insensitively.',
      items: {
        type: 'object',
        properties: {
          plans: { ...names('Plans the rule applies to; absent: every plan.'), nullable: true },
          consumers: { ...names('Consumer ids the rule applies to; absent: every consumer.'), nullable: true },
          models: { ...names('Upstream models or objects the rule applies to; absent: every one.'), nullable: true },
          hide: { ...names('Response fields removed from every object of the JSON answer.'), default: [] },
          denyWrite: { ...names('Request fields the consumer may not set (403 access.field_denied).'), default: [] },
        },
        required: ['hide', 'denyWrite'],
        // A rule must do something.
        anyOf: [
          { properties: { hide: { type: 'array', minItems: 1 } }, required: ['hide'] },
          { properties: { denyWrite: { type: 'array', minItems: 1 } }, required: ['denyWrite'] },
        ],
        additionalProperties: false,
      },
    },
    refuseReadsNamingHidden: {
      type: 'boolean',
      default: true,
      description:
        'A read that names a field hidden from the caller — selecting, filtering, sorting, grouping or aggregating by it (an Odoo domain, `fields`, `order`, `groupby`; SOQL text; a `fields=` parameter) — is refused with 403 `access.field_denied`, so a filter cannot serve as an oracle for a value the caller may not see.',
    },
    maxResponseBytes: {
      type: 'integer',
      minimum: 1024,
      maximum: 32 * 1024 * 1024,
      default: 8 * 1024 * 1024,
      description:
        'Largest answer (decoded) read to remove hidden fields; a larger one, or one that is not JSON, is withheld with 502 `upstream.error` rather than sent unfiltered.',
    },
  },
  required: ['rules', 'refuseReadsNamingHidden', 'maxResponseBytes'],
  additionalProperties: false,
};
