/**
 * @module Generic HTTP upstream: optional header credential injected, the caller's stripped;
 * responses pass through untouched (the upstream speaks its own error dialect).
 */
import type { JSONSchemaType } from 'ajv';
import type { BusinessOperation } from '../../contracts/index.js';
import { fieldNames, secretRefSchema, stripCallerCredentials, type AdapterFactory, type SecretRef } from './types.js';

export interface HttpSettings {
  credentialHeader?: string;
  credentialPrefix?: string;
  credential?: SecretRef;
}

const schema: JSONSchemaType<HttpSettings> = {
  type: 'object',
  properties: {
    credentialHeader: { type: 'string', pattern: '^[A-Za-z0-9-]+$', nullable: true, description: 'Header carrying the credential, e.g. Authorization.' },
    credentialPrefix: { type: 'string', maxLength: 32, nullable: true, description: 'Text before the secret, e.g. "Bearer ".' },
    credential: { ...secretRefSchema, nullable: true, description: 'Reference to the secret.' } as never,
  },
  required: [],
  additionalProperties: false,
  dependencies: { credential: ['credentialHeader'] },
};

export const httpAdapter: AdapterFactory<HttpSettings> = {
  kind: 'http',
  schema,
  create(settings, env) {
    const header = settings.credentialHeader?.toLowerCase();
    const value =
      settings.credential === undefined ? undefined : (settings.credentialPrefix ?? '') + env.resolveSecret(settings.credential, 'settings.credential');
    return {
      kind: 'http',
      needsBody: false,
      prepare(ctx) {
        stripCallerCredentials(ctx.upstreamHeaders);
        if (header !== undefined && value !== undefined) ctx.upstreamHeaders[header] = value;
      },
      extractOperation(method, path, body): BusinessOperation {
        const segments = path.split('?')[0]!.split('/').filter(Boolean);
        const action = method === 'GET' || method === 'HEAD' ? 'read' : method === 'POST' ? 'create' : method === 'DELETE' ? 'delete' : method === 'OPTIONS' ? 'call' : 'update';
        return { system: 'http', entity: segments[0] ?? '', action, fields: fieldNames(body), ids: segments.slice(1, 2) };
      },
      inspects: () => false,
      mapResponse: () => ({ kind: 'pass' }),
    };
  },
};
