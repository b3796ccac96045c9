/** @module Barrel: the policy contract, the registry and the built-in policies. */
export * from './define-policy.js';
export * from './errors.js';
export * from './registry.js';
export * from './respond.js';
export { accessRecordPolicy, redactQuery } from './access-record/policy.js';
export { asyncDeliveryPolicy, asyncStatusPath, prefersRespondAsync } from './async-delivery/policy.js';
export * from './async-delivery/queue.js';
export { requestHygienePolicy } from './request-hygiene/policy.js';
export { apiKeyPolicy } from './api-key/policy.js';
export { cachePolicy } from './cache/policy.js';
export { cachePurgeRegistry, type CachePurgeRegistry, type PurgeByPrefix } from './cache/purge.js';
export { contractValidationPolicy } from './contract-validation/policy.js';
export { fieldAuthPolicy } from './field-auth/policy.js';
export { idempotencyPolicy } from './idempotency/policy.js';
export { jwtAuthPolicy } from './jwt-auth/policy.js';
export { orderStatusPolicy } from './order-status/policy.js';
export { CANONICAL_ORDER_STATUSES, canonicalOrderStatus, type CanonicalOrderStatus, type OrderStatusSource } from './order-status/status.js';
export { ownershipPolicy } from './ownership/policy.js';
export { rbacPolicy } from './rbac/policy.js';
export { quotaPolicy } from './quota/policy.js';
export { rateLimitPolicy } from './rate-limit/policy.js';
export { jsonComplexity, requestLimitsPolicy } from './request-limits/policy.js';
export { subscriptionPolicy } from './subscription/policy.js';
export { tokenIntrospectionPolicy } from './token-introspection/policy.js';
import { accessRecordPolicy } from './access-record/policy.js';
import { asyncDeliveryPolicy } from './async-delivery/policy.js';
import { apiKeyPolicy } from './api-key/policy.js';
import { cachePolicy } from './cache/policy.js';
import { contractValidationPolicy } from './contract-validation/policy.js';
import { fieldAuthPolicy } from './field-auth/policy.js';
import { idempotencyPolicy } from './idempotency/policy.js';
import { jwtAuthPolicy } from './jwt-auth/policy.js';
import { orderStatusPolicy } from './order-status/policy.js';
import { ownershipPolicy } from './ownership/policy.js';
import { quotaPolicy } from './quota/policy.js';
import { rateLimitPolicy } from './rate-limit/policy.js';
import { rbacPolicy } from './rbac/policy.js';
import { requestLimitsPolicy } from './request-limits/policy.js';
import { requestHygienePolicy } from './request-hygiene/policy.js';
import { subscriptionPolicy } from './subscription/policy.js';
import { tokenIntrospectionPolicy } from './token-introspection/policy.js';
import type { AnyPolicyDefinition } from './define-policy.js';

/** Every policy this build ships; the gateway registers these. */
export const BUILT_IN_POLICIES: readonly AnyPolicyDefinition[] = [accessRecordPolicy, apiKeyPolicy, asyncDeliveryPolicy, cachePolicy, contractValidationPolicy, fieldAuthPolicy, idempotencyPolicy, jwtAuthPolicy, orderStatusPolicy, ownershipPolicy, quotaPolicy, rateLimitPolicy, rbacPolicy, requestHygienePolicy, requestLimitsPolicy, subscriptionPolicy, tokenIntrospectionPolicy];

/** Gateway-wide policies present even when a snapshot does not bind them. */
export const ALWAYS_ON_POLICIES: readonly string[] = ['access-record', 'request-hygiene'];
