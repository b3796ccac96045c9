/**
 * @module `subscription`: the verified client (`client_id` / `azp`, set by an authentication
 * policy) must belong to a consumer of the snapshot (403 `access.unknown_consumer`) holding an
 * active subscription to this API version (403 `access.not_subscribed`). The consumer and its
 * plan go into the context, and the verified identity upstream in gateway-owned headers.
 */
import { definePolicy } from '../define-policy.js';
import { GatewayError } from '../errors.js';
import { subscriptionSchema, type SubscriptionConfig } from './schema.js';

export const subscriptionPolicy = definePolicy<SubscriptionConfig>({
  name: 'subscription',
  priority: 1200,
  schema: subscriptionSchema,
  create(config, deps) {
    const { byId, byClientId } = deps.directory;
    const consumerHeader = config.consumerHeader.toLowerCase();
    const subjectHeader = config.subjectHeader.toLowerCase();

    return function subscription(_req, _res, ctx) {
      // An API key names its consumer; a token names its client, which maps to one.
      const consumer =
        ctx.consumer !== undefined ? byId.get(ctx.consumer.id) : ctx.clientId === undefined ? undefined : byClientId.get(ctx.clientId);
      if (consumer === undefined) {
        throw new GatewayError('access.unknown_consumer', 'The calling client is not a registered consumer.');
      }
      const major = Number(ctx.version?.split('.')[0]);
      const active = consumer.subscriptions.find((s) => s.api === ctx.api && s.major === major);
      if (active === undefined) {
        throw new GatewayError('access.not_subscribed', `Consumer "${consumer.id}" has no active subscription to ${ctx.api} v${major}.`);
      }
      ctx.consumer = { id: consumer.id, name: consumer.name, plan: active.plan };
      ctx.upstreamHeaders[consumerHeader] = consumer.id;
      if (ctx.subject !== undefined) ctx.upstreamHeaders[subjectHeader] = ctx.subject;
    };
  },
});
