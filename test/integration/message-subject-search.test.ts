import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/**
 * The message list's subject search (`q`: ILIKE '%…%') has a trigram index (migration 19): without
 * it a search for something rare reads every row of rm_messages (bench/dashboard.ts).
 */
describe('message list: the subject search reads a trigram index', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    await db.pool.query(
      `INSERT INTO rm_messages (message_id, server_id, batch_id, rfc_message_id, mail_from, rcpt_to, recipient_domain,
              subject, source, size, status, accepted_at, last_event_at)
       SELECT i, '11111111-1111-4111-8111-111111111111', 'b', i || '@test', 'a@sender.test', 'r@example.org',
              'example.org', 'Your order PL-' || i || ' has shipped', 'api', 100, 'delivered', now(), now()
         FROM generate_series(1, 2000) AS i`,
    );
    await db.pool.query('ANALYZE rm_messages');
  });
  after(() => db.drop());

  it('finds an order number through rm_messages_subject_trgm, case-insensitively', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      // a table this small is read whole otherwise: the question is whether the index can serve it
      await client.query('SET LOCAL enable_seqscan = off');
      const search = `SELECT message_id FROM rm_messages WHERE subject ILIKE '%pl-1234 %'`;
      const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${search}`)).rows
        .map((r) => r['QUERY PLAN'])
        .join('\n');
      assert.match(plan, /Bitmap Index Scan on rm_messages_subject_trgm/);
      assert.deepEqual(
        (await client.query(search)).rows.map((r) => r.message_id),
        [1234],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
});
