import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MessageSearch, searchMessages, searchMessagesQuery } from '../../infra/read-models/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const S1 = '11111111-1111-4111-8111-111111111111';
const S2 = '22222222-2222-4222-8222-222222222222';

/**
 * The message list's sender and Message-ID filters read their own indexes (messages-schema.ts): without
 * them a search for a rare sender or one Message-ID read the server's every row (bench/dashboard.ts).
 * Asked of the list's own statement, as the API runs it.
 */
describe('message list: the sender, Message-ID and status filters read their indexes', () => {
  let db: TestDatabase;
  const search = (s: Partial<MessageSearch>): MessageSearch => ({
    servers: [S1],
    direction: 'outgoing',
    spamStatus: null,
    status: null,
    recipient: null,
    tag: null,
    since: null,
    until: null,
    subjectContains: null,
    sender: null,
    senderDomain: null,
    rfcMessageId: null,
    before: null,
    limit: 50,
    ...s,
  });
  const plan = async (s: MessageSearch) =>
    (
      await db.pool.query<{ 'QUERY PLAN': string }>({
        ...searchMessagesQuery(s),
        text: `EXPLAIN ${searchMessagesQuery(s).text}`,
      })
    ).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');

  before(async () => {
    db = await createTestDatabase();
    // 30,000 messages of S1: a newsletter address sends most, billing 1 %, 40 support agents 3 %;
    // the same senders' addresses on S2 as well
    await db.pool.query(
      `INSERT INTO rm_messages (message_id, server_id, batch_id, rfc_message_id, mail_from, rcpt_to, recipient_domain,
              subject, source, size, status, accepted_at, last_event_at)
       SELECT i, CASE WHEN i % 4 = 0 THEN $2::uuid ELSE $1::uuid END, 'b', i || '@mail.test',
              CASE WHEN i % 100 = 1 THEN 'Billing@S1.example'
                   WHEN i % 100 BETWEEN 2 AND 4 THEN 'agent' || (i % 40) || '@support.s1.example'
                   ELSE 'news@s1.example' END,
              'r' || i || '@example.org', 'example.org', 'Hello', 'api', 100, 'delivered',
              date_trunc('milliseconds', now()) - i * interval '1 second', now()
         FROM generate_series(1, 40000) AS i`,
      [S1, S2],
    );
    // and a few incoming messages (mail for a route) among them
    await db.pool.query(
      `UPDATE rm_messages SET direction = 'incoming', spam_status = CASE WHEN message_id % 2000 = 7 THEN 'Spam' ELSE 'NotSpam' END
        WHERE message_id % 1000 = 7 OR message_id % 1000 = 8`,
    );
    // a few held ones, and the status table beside the rows (as the projection writes both)
    await db.pool.query(`UPDATE rm_messages SET status = 'held' WHERE message_id % 500 = 3`);
    await db.pool.query(
      `INSERT INTO rm_message_status (message_id, server_id, direction, status, accepted_at)
       SELECT message_id, server_id, direction, status, accepted_at FROM rm_messages`,
    );
    await db.pool.query('ANALYZE rm_messages');
    await db.pool.query('ANALYZE rm_message_status');
  });
  after(() => db.drop());

  it('finds a rare sender, in any case, through rm_messages_server_sender', async () => {
    const s = search({ sender: 'BILLING@s1.example' });
    assert.match(await plan(s), /rm_messages_server_sender on rm_messages/);
    const rows = await searchMessages(db.pool, s);
    assert.equal(rows.length, 50);
    assert.ok(rows.every((r) => r.mail_from === 'Billing@S1.example' && r.server_id === S1));
  });

  it("finds a domain's senders through rm_messages_server_sender_domain", async () => {
    const s = search({ senderDomain: 'Support.S1.example' });
    assert.match(await plan(s), /rm_messages_server_sender_domain on rm_messages/);
    const rows = await searchMessages(db.pool, s);
    assert.equal(rows.length, 50);
    assert.ok(rows.every((r) => r.mail_from.endsWith('@support.s1.example') && r.server_id === S1));
    // list order, as the index keeps it
    const times = rows.map((r) => r.accepted_at.getTime());
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
  });

  it('finds a Message-ID through rm_messages_rfc_message_id, within the servers asked for', async () => {
    for (const servers of [[S1], [S1, S2], null]) {
      const s = search({ servers, rfcMessageId: '1236@mail.test' });
      assert.match(await plan(s), /rm_messages_rfc_message_id/, JSON.stringify(servers));
    }
    assert.equal((await searchMessages(db.pool, search({ rfcMessageId: '1236@mail.test' }))).length, 0, 'of S2');
    assert.deepEqual(
      (await searchMessages(db.pool, search({ rfcMessageId: '1233@mail.test' }))).map((r) => r.id),
      ['1233'],
    );
  });

  it("lists a server's few incoming messages through rm_messages_server_incoming, spam verdict filtered", async () => {
    const s = search({ direction: 'incoming' });
    assert.match(await plan(s), /rm_messages_server_incoming/);
    const rows = await searchMessages(db.pool, s);
    assert.equal(rows.length, 40, 'the incoming messages of S1 only (80 in all, half of them S2)');
    assert.ok(rows.every((r) => r.direction === 'incoming' && r.server_id === S1));
    const spam = await searchMessages(db.pool, search({ direction: 'incoming', spamStatus: 'Spam' }));
    assert.equal(spam.length, 20);
    assert.ok(spam.every((r) => r.spam_status === 'Spam'));
    assert.ok((await searchMessages(db.pool, search({}))).every((r) => r.direction === 'outgoing'));
  });

  it('filters by status through rm_message_status_server, newest first, and pages with the cursor', async () => {
    const s = search({ status: 'held', limit: 20 });
    assert.match(await plan(s), /rm_message_status_server/);
    const first = await searchMessages(db.pool, s);
    assert.equal(first.length, 20);
    assert.ok(first.every((r) => r.status === 'held' && r.server_id === S1 && r.direction === 'outgoing'));
    const last = first[first.length - 1]!;
    const next = await searchMessages(db.pool, {
      ...s,
      before: { at: new Date(last.accepted_at).toISOString(), id: last.id },
    });
    assert.ok(next.length > 0 && next.every((r) => r.status === 'held'));
    assert.ok(
      next.every((r) => Number(r.id) > Number(last.id)),
      'older messages (higher ids here) after the cursor',
    );
    const expected = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM rm_messages WHERE status = 'held' AND server_id = $1 AND direction = 'outgoing'`,
      [S1],
    );
    const all = await searchMessages(db.pool, { ...s, limit: 1000 });
    assert.equal(all.length, expected.rows[0]!.n);
  });

  it("indexes no column a delivery changes, so that the delivery's update of rm_messages can be HOT", async () => {
    const { rows } = await db.pool.query<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE tablename = 'rm_messages' AND schemaname = current_schema()",
    );
    assert.ok(rows.length >= 10, 'the list has its indexes');
    for (const column of ['status', 'attempts', 'last_reply', 'last_event_at', 'delivered_at'])
      assert.ok(
        rows.every((r) => !new RegExp(`\\b${column}\\b`).test(r.indexdef)),
        `${column} is in ${rows.find((r) => new RegExp(`\\b${column}\\b`).test(r.indexdef))?.indexdef}`,
      );
    const { rows: options } = await db.pool.query<{ reloptions: string[] | null }>(
      "SELECT reloptions FROM pg_class WHERE relname = 'rm_messages' AND relnamespace = current_schema()::regnamespace",
    );
    assert.deepEqual(options[0]?.reloptions, ['fillfactor=70']);
  });
});
