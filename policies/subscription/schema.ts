/** @module Config schema of `subscription` (pure data). */
import type { JSONSchemaType } from 'ajv';

export interface SubscriptionConfig {
  consumerHeader: string;
  subjectHeader: string;
}

export const subscriptionSchema: JSONSchemaType<SubscriptionConfig> = {
  type: 'object',
  description: 'Maps the verified client to a consumer with an active subscription to this API version.',
  properties: {
    consumerHeader: {
      type: 'string',
      pattern: '^[A-Za-z0-9-]+$',
      default: 'X-Gatehouse-Consumer',
      description: 'Header carrying the verified consumer id upstream (client-sent copies are always stripped).',
    },
    subjectHeader: {
      type: 'string',
      pattern: '^[A-Za-z0-9-]+$',
      default: 'X-Gatehouse-Subject',
      description: 'Header carrying the verified token subject upstream, when there is one.',
    },
  },
  required: ['consumerHeader', 'subjectHeader'],
  additionalProperties: false,
};
