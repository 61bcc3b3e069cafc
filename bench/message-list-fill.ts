import type pg from 'pg';

/**
 * Fills the messages read model (`rm_messages`, the table `GET /v2/messages` reads, and
 * `rm_message_status`, the copy of each status its status filter reads) with synthetic messages for the dashboard bench, with INSERT … SELECT over
 * generate_series: a million rows in about a minute, where a million messages through the API
 * and the projection would take an hour. The rows look like a real installation's: a few big
 * servers and many small ones, templated subjects (order numbers, digests, invoices), a few
 * senders per server (one sends a third of its mail, support agents a few each), a heavy tail of
 * recipients (a shared inbox gets thousands), mostly delivered, a few held.
 *
 * Every attribute is a hash of the message id (hashint8extended with its own seed), so a run is
 * reproducible; the bench asks the filled table for values to search for.
 */

/** Shares of all messages per server, in per mille: two big servers, two middling, six small. */
export const SERVER_SHARES = [400, 200, 120, 80, 34, 34, 33, 33, 33, 33] as const;

/**
 * The message kinds: per-mille share, subject (SQL over `i` and `h`, a hash), tag (untagged: sent by
 * SMTP), sender (SQL over `srv`, the server): a few addresses of the server's domain send most of its
 * mail, 40 support agents of a subdomain answer tickets, and a survey comes from a third domain.
 */
const KINDS = [
  {
    share: 350,
    subject: `'Weekly digest #' || (i % 60 + 1) || ': ' || topic`,
    tag: `'newsletter'`,
    sender: `'news@tenant' || srv || '.example'`,
  },
  {
    share: 200,
    subject: `'Your order ' || ${orderNumberSql('i')} || ' has shipped'`,
    tag: `'shipping'`,
    sender: `'orders@tenant' || srv || '.example'`,
  },
  {
    share: 150,
    subject: `'Receipt for order ' || ${orderNumberSql('i')}`,
    tag: `'receipt'`,
    sender: `'orders@tenant' || srv || '.example'`,
  },
  {
    share: 100,
    subject: `'Reset your password'`,
    tag: `'password-reset'`,
    sender: `'no-reply@tenant' || srv || '.example'`,
  },
  {
    share: 70,
    subject: `'Your verification code is ' || lpad((h % 1000000)::text, 6, '0')`,
    tag: `'verification'`,
    sender: `'no-reply@tenant' || srv || '.example'`,
  },
  {
    share: 50,
    subject: `'Welcome to Acme, ' || first_name`,
    tag: `'welcome'`,
    sender: `'Hello@Tenant' || srv || '.example'`,
  },
  {
    share: 40,
    subject: `'Invoice INV-2026-' || lpad(i::text, 7, '0')`,
    tag: `'invoice'`,
    sender: `'billing@tenant' || srv || '.example'`,
  },
  {
    share: 38,
    subject: `'Re: ' || topic || ' (ticket ' || (i % 100000) || ')'`,
    tag: 'NULL',
    sender: `'agent' || (h % 40) || '@support.tenant' || srv || '.example'`,
  },
  {
    share: 2,
    subject: `'Survey: how did we do?'`,
    tag: `'survey-q3'`,
    sender: `'survey@research-tenant' || srv || '.example'`,
  },
];

/** An order number as subjects carry it: unique per message, so a search for one finds one or two. */
function orderNumberSql(i: string): string {
  return `'PL-' || (${i} * 7 + 100003)`;
}

const TOPICS = [
  'spring sale',
  'new arrivals',
  'garden tools',
  'kitchen',
  'outdoor living',
  'back to school',
  'summer reading',
  'home office',
  'bikes',
  'camping',
  'coffee',
  'tea',
  'lighting',
  'rugs',
  'storage',
  'pets',
  'baby',
  'gifts',
  'audio',
  'cameras',
];
const FIRST_NAMES = ['Sophie', 'Liam', 'Emma', 'Noah', 'Mia', 'Lucas', 'Olivia', 'Hugo', 'Lea', 'Jonas'];
const RECIPIENT_DOMAINS = [
  'gmail.com',
  'yahoo.com',
  'outlook.com',
  'hotmail.com',
  'icloud.com',
  'gmx.de',
  'web.de',
  'orange.fr',
  'free.fr',
  'acme-corp.example',
  'globex.example',
  'initech.example',
];
const sqlArray = (values: string[]) => `(ARRAY[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')}])`;
const TOPICS_SQL = sqlArray(TOPICS);
const NAMES_SQL = sqlArray(FIRST_NAMES);
const DOMAINS_SQL = sqlArray(RECIPIENT_DOMAINS);

const RECIPIENTS = 300_000;
/**
 * A recipient index with a heavy head: the cube of a uniform number, so the first address (a
 * shared inbox) gets about 1.5 % of all messages and most get a handful.
 */
const recipientSql = `floor(${RECIPIENTS} * power((h3 % 1000000000) / 1e9, 3))::bigint`;

const cumulative = (shares: readonly number[]) => shares.map((_, i) => shares.slice(0, i + 1).reduce((a, b) => a + b));

/** The 1-based server of a message, from its per-mille draw `rs`. */
function serverIndexSql(): string {
  const edges = cumulative(SERVER_SHARES);
  return `CASE ${edges.map((e, i) => `WHEN rs < ${e} THEN ${i + 1}`).join(' ')} ELSE ${edges.length} END`;
}

function kindCase(pick: (k: (typeof KINDS)[number]) => string): string {
  const edges = cumulative(KINDS.map((k) => k.share));
  return `CASE ${KINDS.map((k, i) => `WHEN rk < ${edges[i]} THEN ${pick(k)}`).join(' ')} END`;
}

/** Statuses per 10,000: mostly delivered, a few bounced, deferred, failed, held, cancelled, queued. */
const STATUS_SQL = `CASE WHEN rst < 9300 THEN 'delivered' WHEN rst < 9600 THEN 'bounced' WHEN rst < 9660 THEN 'deferred'
  WHEN rst < 9700 THEN 'failed' WHEN rst < 9730 THEN 'held' WHEN rst < 9750 THEN 'cancelled'
  WHEN rst < 9770 THEN 'queued' WHEN rst < 9780 THEN 'released' ELSE 'delivered' END`;

/**
 * Inserts messages `from`..`to` (ids, in accept order), accepted evenly over `days` days up to
 * `end`, spread over `servers` (ten, in SERVER_SHARES order).
 */
export async function insertMessages(
  pool: pg.Pool,
  servers: string[],
  range: { from: number; to: number; total: number },
  time: { end: Date; days: number },
): Promise<void> {
  if (servers.length !== SERVER_SHARES.length) throw new Error(`${SERVER_SHARES.length} servers expected`);
  const spanMs = time.days * 86_400_000;
  await pool.query(
    `INSERT INTO rm_messages (message_id, server_id, batch_id, rfc_message_id, mail_from, rcpt_to, recipient_domain,
            subject, tag, source, size, status, held_reason, attempts, last_reply, bounce_classification, opens,
            clicks, accepted_at, last_event_at, delivered_at, content_hash)
     SELECT i, ($1::uuid[])[srv], 'b' || (i / 20), i || '.' || srv || '@mail.postlog.example',
            ${kindCase((k) => k.sender)}, rcpt, split_part(rcpt, '@', 2),
            ${kindCase((k) => k.subject)}, ${kindCase((k) => k.tag)},
            ${kindCase((k) => (k.tag === 'NULL' ? `'smtp'` : `'api'`))}, 2000 + h % 60000, status,
            CASE WHEN status = 'held' THEN (ARRAY['recipient is suppressed', 'development mode',
              'spam score 7.4 above 5'])[1 + h % 3] END,
            CASE status WHEN 'delivered' THEN 1 + (h % 40 = 0)::int WHEN 'bounced' THEN 1 WHEN 'deferred' THEN 2
              WHEN 'failed' THEN 5 ELSE 0 END,
            CASE status WHEN 'delivered' THEN '250 2.0.0 OK ' || (h % 1000000) || ' - gsmtp'
              WHEN 'bounced' THEN '550 5.1.1 The email account that you tried to reach does not exist'
              WHEN 'deferred' THEN '451 4.7.1 Try again later' WHEN 'failed' THEN '421 4.4.2 Connection timed out' END,
            CASE WHEN status = 'bounced' THEN 'bad-mailbox' END,
            CASE WHEN status = 'delivered' AND rk < 350 THEN h % 4 ELSE 0 END,
            CASE WHEN status = 'delivered' AND rk < 350 THEN (h % 10 = 0)::int ELSE 0 END,
            at, at + interval '2 seconds', CASE WHEN status = 'delivered' THEN at + interval '2 seconds' END,
            lpad(to_hex(rk), 64, '0')
       FROM (SELECT i, srv, rk, h, status, ${TOPICS_SQL}[1 + h % ${TOPICS.length}] AS topic,
                    ${NAMES_SQL}[1 + h % ${FIRST_NAMES.length}] AS first_name,
                    'user' || k || '@' || ${DOMAINS_SQL}[1 + k % ${RECIPIENT_DOMAINS.length}] AS rcpt,
                    -- milliseconds, as the projection writes them: the list's cursor carries milliseconds
                    date_trunc('milliseconds', $4::timestamptz - ($3::bigint - i) * ($5::float8 / $3::bigint)
                      * interval '1 millisecond') AS at
               FROM (SELECT i, ${serverIndexSql()} AS srv, rk, h, ${recipientSql} AS k, ${STATUS_SQL} AS status
                       FROM (SELECT i, abs(hashint8extended(i, 1)) % 1000 AS rs, abs(hashint8extended(i, 2)) % 1000 AS rk,
                                    abs(hashint8extended(i, 3)) % 10000 AS rst, abs(hashint8extended(i, 4)) AS h,
                                    abs(hashint8extended(i, 5)) AS h3
                               FROM generate_series($2::bigint, $6::bigint) AS i) draws) drawn) m`,
    [servers, range.from, range.total, time.end, spanMs, range.to],
  );
  // as the projection writes it beside each row (infra/read-models/message-writes.ts)
  await pool.query(
    `INSERT INTO rm_message_status (message_id, server_id, direction, status, accepted_at)
     SELECT message_id, server_id, direction, status, accepted_at FROM rm_messages WHERE message_id BETWEEN $1 AND $2`,
    [range.from, range.to],
  );
}
