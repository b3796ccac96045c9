/** @module Config schema of `request-hygiene` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface RequestHygieneConfig {
  maxUrlLength: number;
  maxHeaderCount: number;
  maxHeaderBytes: number;
  trustedProxies: string[];
}

export const requestHygieneSchema: JSONSchemaType<RequestHygieneConfig> = {
  type: 'object',
  description: 'Path and header checks that run on every request before routing.',
  properties: {
    maxUrlLength: {
      type: 'integer',
      minimum: 64,
      maximum: 65_536,
      default: 8192,
      description: 'Longest request target (path + query) accepted; longer answers 414.',
    },
    maxHeaderCount: {
      type: 'integer',
      minimum: 8,
      maximum: 1000,
      default: 100,
      description: 'Most header fields accepted; more answers 431.',
    },
    maxHeaderBytes: {
      type: 'integer',
      minimum: 1024,
      maximum: 65_536,
      default: 16_384,
      description: 'Largest total of header names and values accepted; more answers 431.',
    },
    trustedProxies: {
      type: 'array',
      items: { type: 'string', pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$' },
      maxItems: 256,
      default: [],
      description:
        'Addresses or CIDR ranges of proxies in front of the gateway. Only from these peers are ' +
        'X-Forwarded-*, Forwarded and identity headers believed; from anyone else they are dropped.',
    },
  },
  required: ['maxUrlLength', 'maxHeaderCount', 'maxHeaderBytes', 'trustedProxies'],
  additionalProperties: false,
};
