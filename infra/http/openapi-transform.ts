import { jsonSchemaTransform } from 'fastify-type-provider-zod';

type Transform = typeof jsonSchemaTransform;

/**
 * The zod routes' schemas as OpenAPI (fastify-type-provider-zod), and a 204 as an answer without
 * content: zod's null becomes a nullable JSON body in OpenAPI 3.0, which would tell clients to
 * expect `null` with a JSON content type; @fastify/swagger leaves out the content of `type: null`.
 * Routes an admin token may call name the session scheme too.
 */
export const openApiTransform: Transform = (input) => {
  const out = jsonSchemaTransform(input);
  const response = (out.schema as { response?: Record<string, unknown> } | undefined)?.response;
  if (response?.['204']) response['204'] = { type: 'null', description: 'No Content' };
  // a dashboard session authenticates wherever an admin token does (infra/http/auth.ts)
  const schema = out.schema as { security?: Record<string, string[]>[] } | undefined;
  if (schema?.security?.some((s) => 'adminToken' in s) && !schema.security.some((s) => 'session' in s))
    schema.security = [...schema.security, { session: [] }];
  return out;
};
