import assert from 'node:assert/strict';
import type { EventStore } from '../../infra/event-store/index.js';
import { projectionStatus } from '../../projections/maintenance.js';
import { ProjectionRunner, type Projection } from '../../projections/runner.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { testLogger, type TestDatabase } from './database.js';
import { eventually } from './eventually.js';

/** Handles a message command, which must succeed. */
export async function run(store: EventStore, id: string, command: Parameters<typeof handleMessageCommand>[2]) {
  const res = await handleMessageCommand(store, id, command);
  assert.ok(res.ok, JSON.stringify(res));
}

/** Runs a projection (as the projector does) until its checkpoint reaches the head of the log. */
export async function catchUp(db: TestDatabase, store: EventStore, p: Projection): Promise<void> {
  const runner = new ProjectionRunner(p, {
    pool: db.pool,
    connectionString: db.url,
    eventStore: store,
    logger: testLogger,
  });
  runner.start();
  try {
    let last: unknown;
    await eventually(
      async () => {
        const [s] = await projectionStatus(db.pool, [p.name]);
        last = s;
        return s && s.position !== null && s.position === s.headPosition ? true : undefined;
      },
      () => `projection ${p.name} did not catch up: ${JSON.stringify(last)}`,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
  } finally {
    await runner.stop();
  }
}
