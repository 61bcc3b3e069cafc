import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isGlobalAdmin } from '../../domain/index.js';
import type { Config } from '../../infra/config/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { responses } from '../../infra/http/responses.js';
import type { Database } from '../../infra/postgres/index.js';
import { projectionStatus } from '../../projections/maintenance.js';
import { projectionFiltersFor, projectionNamesFor } from '../adapters.js';

const Status = z.object({
  name: z.string(),
  version: z.number().nullable(),
  position: z.number().nullable(),
  headPosition: z.number().nullable(),
  lagEvents: z.number().nullable(),
  lagSeconds: z.number(),
  updatedAt: z.string().nullable(),
  lastError: z.string().nullable(),
  errorAt: z.string().nullable(),
});

/**
 * `GET /v2/projections`: every read model's checkpoint, lag and last error, as `postlog projections
 * status` prints them (global admins: it is the whole system's state). It lives in app/ because it
 * joins the projections' registry with the configuration's adapter choice.
 */
export function projectionStatusRoute(deps: {
  config: Config;
  database: Database;
  eventStore: EventStore;
  auth: Authenticator;
}) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.get('/v2/projections', {
      preHandler: authenticate(deps.auth, ['admin']),
      schema: {
        tags: ['operations'],
        summary: 'Checkpoints, lag and errors of every projection (global admins)',
        security: [{ adminToken: [] }],
        response: responses({ 200: z.object({ projections: z.array(Status) }) }, [401, 403]),
      },
      handler: async (req, reply) => {
        if (!isGlobalAdmin(req.postlogActor!))
          return sendError(reply, 'FORBIDDEN', "only a global admin sees the projections' state");
        const status = await projectionStatus(
          deps.database.pool,
          projectionNamesFor(deps.config),
          deps.eventStore,
          projectionFiltersFor(deps.config),
        );
        return { projections: status.map(({ checkpoint: _c, ...s }) => s) };
      },
    });
  };
}
