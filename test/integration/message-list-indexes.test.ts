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
describe('message list: the sender and Message-ID filters read their indexes', () => {
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
    await db.pool.query('ANALYZE rm_messages');
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
});
