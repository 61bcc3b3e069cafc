import assert from 'node:assert/strict';
import { analyticsProjection } from '../../projections/analytics/postgres-analytics-projection.js';
import { verifyProjection } from '../../projections/maintenance.js';
import { liveTables } from '../../projections/runner.js';
import { PostgresReports } from '../../read-api/analytics/postgres-reports.js';
import { catchUp } from '../helpers/projections.js';
import { analyticsReportsContract } from '../contract/analytics-reports.contract.js';

/** The embedded analytics store (Postgres tables fed by a Postgres projection) against the report contract. */
analyticsReportsContract('postgres', async (ctx) => ({
  reports: new PostgresReports(ctx.db.pool),
  catchUp: () => catchUp(ctx.db, ctx.store, analyticsProjection),
  async redeliver(events) {
    // the runner never repeats a batch (same transaction as the checkpoint); applying one again by hand must still change nothing
    const client = await ctx.db.pool.connect();
    try {
      await client.query('BEGIN');
      await analyticsProjection.apply(client, events, liveTables);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  },
  async verify() {
    // rebuilt from the log, the tables equal the live ones (what `postlog projections verify analytics` checks)
    const verified = await verifyProjection(ctx.db.pool, ctx.store, analyticsProjection);
    assert.equal(verified.ok, true, JSON.stringify(verified.tables));
  },
  close: async () => undefined,
}));
