import assert from 'node:assert/strict';
import type { EventStore } from '../../infra/event-store/index.js';
import { projectionStatus } from '../../projections/maintenance.js';
import { ProjectionRunner, type PostgresProjection } from '../../projections/runner.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { testLogger, type TestDatabase } from './database.js';

/** Handles a message command, which must succeed. */
export async function run(store: EventStore, id: string, command: Parameters<typeof handleMessageCommand>[2]) {
  const res = await handleMessageCommand(store, id, command);
  assert.ok(res.ok, JSON.stringify(res));
}

/** Runs a projection until it has applied everything currently in the log. */
export async function catchUp(db: TestDatabase, store: EventStore, p: PostgresProjection) {
  const runner = new ProjectionRunner(p, { pool: db.pool, connectionString: db.url, eventStore: store, logger: testLogger });
  runner.start();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [s] = await projectionStatus(db.pool, [p.name]);
    if (s && s.position !== null && s.position === s.headPosition) break;
    if (Date.now() > deadline) throw new Error(`projection did not catch up: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await runner.stop();
}
