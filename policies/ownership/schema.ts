/** @module Config schema of `ownership` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface OwnershipConfig {
  unmappedWrites: 'deny' | 'allow';
}

export const ownershipPolicySchema: JSONSchemaType<OwnershipConfig> = {
  type: 'object',
  description:
    "System-of-record write ownership: every write the upstream adapter extracts (create, update, delete, method calls, each Salesforce composite part) must come from a consumer speaking for the owner of each written field, or holding an enrichment grant for it, per the snapshot's ownership registry; otherwise 403 `ownership.write_denied` before any upstream call. Reads pass.",
  properties: {
    unmappedWrites: {
      type: 'string',
      enum: ['deny', 'allow'],
      default: 'deny',
      description:
        'Writes to an upstream model or object no registry entity maps (an unknown Odoo model or wizard, a Salesforce path the adapter cannot read): `deny` (fail closed) refuses them with `ownership.write_denied`; `allow` lets them through unchecked.',
    },
  },
  required: ['unmappedWrites'],
  additionalProperties: false,
};
