/**
 * @module `api-key`: keys look like `<prefix>.<secret>`; the snapshot holds only the prefix (to
 * find the key) and the SHA-256 of the whole key, compared in constant time. Expired and
 * revoked keys are refused, and so is any key in the query string (URLs end up in logs).
 * The key's consumer goes into the context; `subscription` checks what it may call.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import { definePolicy } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { apiKeySchema, type ApiKeyConfig } from './schema.js';

/** Query parameter names that would carry a key. */
const KEY_IN_QUERY = /[?&](?:api[_-]?key|apikey|x-api-key|key)=/i;

export const apiKeyPolicy = definePolicy<ApiKeyConfig>({
  name: 'api-key',
  priority: 1450,
  schema: apiKeySchema,
  create(config, deps) {
    const header = config.header.toLowerCase();
    const challenge = `ApiKey realm="gatehouse", header="${config.header}"`;
    const refuse = (detail: string): GatewayError =>
      new GatewayError('auth.token_invalid', detail, { headers: { 'www-authenticate': challenge } });
    const { byKeyPrefix } = deps.directory;

    return function apiKey(req, _res, ctx) {
      const queryAt = ctx.path.indexOf('?');
      if (queryAt !== -1 && KEY_IN_QUERY.test(ctx.path.slice(queryAt))) {
        throw refuse(`API keys are accepted only in the ${config.header} header, never in the URL.`);
      }
      const presented = req.headers[header];
      if (presented === undefined || presented === '') {
        if (!config.required) return;
        throw new GatewayError('auth.token_missing', `This API needs an API key in the ${config.header} header.`, {
          headers: { 'www-authenticate': challenge },
        });
      }
      if (typeof presented !== 'string' || presented.length > 512) throw refuse('The API key is not valid.');
      const dot = presented.indexOf('.');
      const entry = dot > 0 ? byKeyPrefix.get(presented.slice(0, dot)) : undefined;
      const digest = Buffer.from(hash('sha256', presented, 'hex'), 'hex');
      // Compared even when no key has this prefix, so timing does not tell the two apart.
      const expected = Buffer.from(entry?.key.sha256 ?? '0'.repeat(64), 'hex');
      if (!timingSafeEqual(digest, expected) || entry === undefined) throw refuse('The API key is not valid.');
      if (entry.key.revoked) throw refuse('The API key has been revoked.');
      if (entry.key.expiresAt !== undefined && Date.parse(entry.key.expiresAt) <= deps.clock.now()) {
        throw refuse('The API key has expired.');
      }
      ctx.consumer = { id: entry.consumer.id, name: entry.consumer.name };
      ctx.subject = `api-key:${entry.key.id}`;
    };
  },
});
