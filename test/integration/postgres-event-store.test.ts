import pg from 'pg';
import { PostgresEventStore } from '../../infra/event-store/index.js';
import { eventStoreContract } from '../contract/event-store.contract.js';
import { createTestDatabase, testLogger } from '../helpers/database.js';

eventStoreContract('postgres', async () => {
  const db = await createTestDatabase();
  const stores: PostgresEventStore[] = [];
  const make = (pool: pg.Pool) => {
    const s = new PostgresEventStore({ pool, connectionString: db.url, logger: testLogger });
    stores.push(s);
    return s;
  };
  let second: PostgresEventStore | undefined;
  return {
    store: make(db.pool),
    secondStore: async () => (second ??= make(db.newPool())),
    async openUncommittedWrite() {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO events (event_id, stream_id, revision, type, schema_version, data, metadata)
         VALUES (gen_random_uuid(), 'gap-' || gen_random_uuid(), 0, 'Doomed', 1, '{}', '{}')`,
      );
      return async () => {
        await client.query('ROLLBACK');
        await client.end();
      };
    },
    async teardown() {
      await Promise.all(stores.map((s) => s.close()));
      await db.drop();
    },
  };
});
