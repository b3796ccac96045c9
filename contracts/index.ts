/** @module Barrel: what the planes share. */
export * from './problem-codes.js';
export * from './snapshot.js';
export * from './canonical.js';
export * from './request-context.js';
export * from './openapi.js';
export * from './runtime.js';
export * from './admin-api.js';
export * from './contract-diff.js';
export * from './access-records.js';
export * from './backoff.js';
