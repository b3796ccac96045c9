/** @module Config schema of `contract-validation` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface ContractValidationConfig {
  mode: 'enforce' | 'detect';
  maxErrors: number;
  logIntervalSeconds: number;
  responses: { sampleRate: number };
}

export const contractValidationSchema: JSONSchemaType<ContractValidationConfig> = {
  type: 'object',
  description:
    'Checks requests against the API version\'s OpenAPI 3.0 / 3.1 contract (path, query, header and cookie parameters, body media type and JSON body), and optionally samples upstream answers for contract drift.',
  properties: {
    mode: {
      type: 'string',
      enum: ['enforce', 'detect'],
      default: 'enforce',
      description:
        '`enforce`: a request that breaks the contract is refused (400 contract.request_invalid, 415 request.unsupported_media_type). `detect`: it is logged and counted, and let through.',
    },
    maxErrors: {
      type: 'integer',
      minimum: 1,
      maximum: 100,
      default: 20,
      description: 'Most entries in a refusal\'s `errors` list (and in a log line).',
    },
    logIntervalSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 3600,
      default: 10,
      description: 'At most one log line per operation and kind of violation or drift in this many seconds (0: every one); the metrics count them all.',
    },
    responses: {
      type: 'object',
      default: { sampleRate: 0 },
      description: 'Response validation: sampled upstream answers are checked against the contract and drift is logged and counted; answers are never changed.',
      properties: {
        sampleRate: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: 0,
          description: 'Share of requests whose answer is checked (0: none, 1: all). A checked answer is read whole before it is sent.',
        },
      },
      required: ['sampleRate'],
      additionalProperties: false,
    },
  },
  required: ['mode', 'maxErrors', 'logIntervalSeconds', 'responses'],
  additionalProperties: false,
};
