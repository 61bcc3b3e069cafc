import { analyticsReportsFor } from '../adapters.js';
import { graphqlRoutes } from '../../read-api/graphql/graphql-routes.js';
import { dmarcSourcesOf, dmarcSummaryOf } from '../../infra/dmarc-reports/index.js';
import type { Role } from './role.js';

/** Analytics reports over GraphQL, from ClickHouse or the embedded tables. */
export const graphqlRole: Role = {
  name: 'graphql',
  async setUp(s, stack) {
    const analytics = analyticsReportsFor(s.config, { pool: s.database.pool, logger: s.logger });
    stack.push('analytics store', () => analytics.close());
    const routes = [
      graphqlRoutes({
        reports: analytics.reports,
        dmarc: {
          summary: (selection) => dmarcSummaryOf(s.database.pool, selection),
          sources: (selection, options) => dmarcSourcesOf(s.database.pool, selection, options),
        },
        auth: s.auth,
        tenancy: s.tenancy,
        logger: s.logger,
        production: s.config.environment === 'production',
      }),
    ];
    return { routes };
  },
};
