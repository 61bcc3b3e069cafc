import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { responses } from '../infra/http/responses.js';
import type { SigningKeys } from '../infra/webhooks/index.js';

/**
 * GET /.well-known/jwks.json: Postlog's public signing key (RS256), so webhook receivers can check
 * X-Postal-Signature-256 (the key id is in X-Postal-Signature-KID). Public, no authentication.
 */
export function jwksRoutes(deps: { keys: SigningKeys }) {
  return async function plugin(app: FastifyInstance) {
    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'The public key that signs webhooks (JWKS)',
          response: responses(
            {
              200: z.object({
                keys: z.array(
                  z.object({
                    kty: z.literal('RSA'),
                    n: z.string(),
                    e: z.string(),
                    kid: z.string(),
                    alg: z.literal('RS256'),
                    use: z.literal('sig'),
                  }),
                ),
              }),
            },
            [],
          ),
        },
      },
      async (_req, reply) => {
        const key = await deps.keys.key();
        return reply.header('cache-control', 'public, max-age=300').send({ keys: [key.jwk] });
      },
    );
  };
}
