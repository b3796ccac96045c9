/** @module Config schema of `request-limits` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface OperationLimits {
  maxBodyBytes?: number;
  /** Media types (`type/subtype`, no parameters) a body may have; absent: any. */
  contentTypes?: string[];
}

export interface RequestLimitsConfig {
  maxBodyBytes: number;
  operations: Record<string, OperationLimits>;
  contentTypes: string[];
  json: { maxDepth: number; maxElements: number };
  maxUrlLength?: number;
  maxHeaderCount?: number;
  maxHeaderBytes?: number;
}

const mediaTypes = {
  type: 'array',
  items: { type: 'string', pattern: '^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+*-]+$' },
  maxItems: 20,
} as const;

export const requestLimitsSchema: JSONSchemaType<RequestLimitsConfig> = {
  type: 'object',
  description: 'Size and shape limits of one API version\'s requests, checked before anything reads them.',
  properties: {
    maxBodyBytes: {
      type: 'integer',
      minimum: 0,
      maximum: 64 * 1024 * 1024,
      default: 1024 * 1024,
      description: 'Largest request body (413 request.too_large), refused from Content-Length before reading and while reading chunked bodies. Never above the gateway\'s buffer cap.',
    },
    operations: {
      type: 'object',
      required: [],
      default: {},
      description: 'Per operation id: its own maxBodyBytes and contentTypes.',
      additionalProperties: {
        type: 'object',
        properties: {
          maxBodyBytes: { type: 'integer', minimum: 0, maximum: 64 * 1024 * 1024, nullable: true },
          contentTypes: { ...mediaTypes, nullable: true },
        },
        required: [],
        additionalProperties: false,
      },
    },
    contentTypes: {
      ...mediaTypes,
      default: [],
      description: 'Media types a request body may have (415 request.unsupported_media_type); [] = any. An operation\'s own list wins.',
    },
    json: {
      type: 'object',
      default: { maxDepth: 32, maxElements: 10_000 },
      description: 'Limits on JSON bodies (400 request.json_too_complex), checked on the bytes before any policy or the upstream walks the document.',
      properties: {
        maxDepth: { type: 'integer', minimum: 1, maximum: 1000, default: 32, description: 'Deepest nesting of objects and arrays.' },
        maxElements: {
          type: 'integer',
          minimum: 1,
          maximum: 10_000_000,
          default: 10_000,
          description: 'Most array items plus object members in the whole document.',
        },
      },
      required: ['maxDepth', 'maxElements'],
      additionalProperties: false,
    },
    maxUrlLength: { type: 'integer', minimum: 16, maximum: 65_536, nullable: true, description: 'Longest request target for this version (414); absent: the gateway-wide limit.' },
    maxHeaderCount: { type: 'integer', minimum: 1, maximum: 1000, nullable: true, description: 'Most header fields for this version (431).' },
    maxHeaderBytes: { type: 'integer', minimum: 64, maximum: 1_048_576, nullable: true, description: 'Most header bytes for this version (431).' },
  },
  required: ['maxBodyBytes', 'operations', 'contentTypes', 'json'],
  additionalProperties: false,
};
