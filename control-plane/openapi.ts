/**
 * @module The admin API's own OpenAPI 3.1 document, assembled from the fragments each route
 * module exports next to its router (so a route and its description change together).
 */

/** Paths and component schemas one route module contributes. */
export interface OpenApiFragment {
  paths: Record<string, Record<string, unknown>>;
  schemas?: Record<string, unknown>;
}

/**
 * @example
 * const doc = buildAdminOpenApi([teamsOpenApi, apisOpenApi]);
 */
export function buildAdminOpenApi(fragments: readonly OpenApiFragment[]): object {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = {
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details with a stable code.',
      properties: {
        type: { type: 'string', format: 'uri' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        code: { type: 'string' },
        traceId: { type: 'string' },
        errors: { type: 'array', items: { type: 'object', properties: { pointer: { type: 'string' }, detail: { type: 'string' } } } },
      },
      required: ['type', 'title', 'status', 'detail', 'code'],
    },
  };
  for (const fragment of fragments) {
    for (const [path, operations] of Object.entries(fragment.paths)) paths[path] = { ...paths[path], ...operations };
    Object.assign(schemas, fragment.schemas);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Gatehouse admin API', version: '1.0.0', description: 'Governs what the Gatehouse gateways enforce. Bearer tokens from the configured OpenID issuer; roles owner, reviewer, auditor, admin.' },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas,
      responses: {
        Problem: { description: 'A problem (RFC 9457).', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      },
    },
  };
}
