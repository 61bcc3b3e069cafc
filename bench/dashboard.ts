import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateServer, systemActor } from '../domain/index.js';
import { startPostlog, type RunningPostlog } from '../app/postlog.js';
import { loadConfig } from '../infra/config/index.js';
import { createLogger } from '../infra/logging/index.js';
import { http } from '../test/helpers/app.js';
import { freePort } from '../test/helpers/ports.js';
import { insertMessages, SERVER_SHARES } from './message-list-fill.js';

const logger = createLogger({ level: 'warn', format: 'json' });
const TARGET_P95_MS = 200;

const must = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
};

/** Four organizations, ten servers: the first two are the big ones (SERVER_SHARES). */
async function createServers(app: RunningPostlog): Promise<{ servers: string[]; organizations: string[] }> {
  const actor = systemActor('bench');
  const layout = [
    { org: 'Acme Retail', servers: ['Shop (transactional)', 'Newsletter'] },
    { org: 'Globex', servers: ['Billing', 'Notifications'] },
    { org: 'Initech', servers: ['App', 'Staging', 'Reports'] },
    { org: 'Umbrella', servers: ['Alerts', 'Marketing', 'Support'] },
  ];
  const servers: string[] = [];
  const organizations: string[] = [];
  for (const { org, servers: names } of layout) {
    const o = must(await app.tenancy.createOrganization(actor, { name: org }));
    organizations.push(o.id);
    for (const name of names)
      servers.push(must(await app.tenancy.createServer(actor, o.id, CreateServer.parse({ name, mode: 'live' }))).id);
  }
  return { servers, organizations };
}

/** 1,000,000 messages over 60 days, in chunks (a progress line each), then VACUUM ANALYZE as autovacuum would. */
async function fill(app: RunningPostlog, servers: string[], total: number, days: number) {
  const chunk = 100_000;
  const end = new Date();
  const t0 = performance.now();
  for (let from = 1; from <= total; from += chunk) {
    const to = Math.min(total, from + chunk - 1);
    await insertMessages(app.database.pool, servers, { from, to, total }, { end, days });
    process.stderr.write(`filled ${to} of ${total} messages (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  const insertSeconds = (performance.now() - t0) / 1000;
  await app.database.pool.query('VACUUM (ANALYZE) rm_messages');
  const seconds = (performance.now() - t0) / 1000;
  const { rows } = await app.database.pool.query<{ table_mb: number; indexes_mb: number }>(
    `SELECT round(pg_table_size('rm_messages') / 1048576.0)::int AS table_mb,
            round(pg_indexes_size('rm_messages') / 1048576.0)::int AS indexes_mb`,
  );
  process.stderr.write(
    `filled in ${insertSeconds.toFixed(1)} s, vacuumed and analyzed in ${(seconds - insertSeconds).toFixed(1)} s: table ${rows[0]!.table_mb} MB, indexes ${rows[0]!.indexes_mb} MB\n`,
  );
  return { seconds: +seconds.toFixed(1), tableMb: rows[0]!.table_mb, indexesMb: rows[0]!.indexes_mb };
}

/** A dashboard user of the big servers' organization, logged in: the session cookie. */
async function logIn(app: RunningPostlog, organizationId: string): Promise<string> {
  const token = must(await app.tenancy.createAdminToken(systemActor('bench'), { name: 'bench', organizationId: null }));
  const user = { email: 'ops@acme.example', password: 'correct horse battery staple' };
  const created = await http(app.httpUrl, 'POST', '/v2/users', {
    body: { ...user, organizationId, role: 'member' },
    headers: { authorization: `Bearer ${token.secret}` },
  });
  if (created.status !== 201) throw new Error(`POST /v2/users: ${created.status} ${JSON.stringify(created.body)}`);
  const session = await http(app.httpUrl, 'POST', '/v2/session', { body: user });
  if (session.status !== 200) throw new Error(`POST /v2/session: ${session.status} ${JSON.stringify(session.body)}`);
  return (session.headers.get('set-cookie') ?? '').split(';')[0]!;
}

type Query = Record<string, string>;
const path = (q: Query) => `/v2/messages?${new URLSearchParams({ ...q, limit: '50' })}`;

/**
 * What a dashboard user asks of the busiest server, per query kind: the values are read from the
 * table (recipients, order and invoice numbers that exist), from old and recent messages alike.
 */
async function queryKinds(app: RunningPostlog, serverId: string, cookie: string, days: number) {
  const pool = app.database.pool;
  const spread = (n: number) => `(SELECT array_agg(i * (SELECT max(message_id) FROM rm_messages) / ${n + 1})
                                    FROM generate_series(1, ${n}) i)`;
  const sample = async (where: string, n: number) =>
    (
      await pool.query<{ id: string; rcpt_to: string; subject: string; rfc_message_id: string }>(
        `SELECT DISTINCT ON (s.i) m.message_id::text AS id, m.rcpt_to, m.subject, m.rfc_message_id
           FROM unnest(${spread(n)}) AS s(i)
           JOIN LATERAL (SELECT * FROM rm_messages WHERE server_id = $1 AND ${where} AND message_id >= s.i
                          ORDER BY message_id LIMIT 1) m ON true`,
        [serverId],
      )
    ).rows;
  // the shared inbox (the heaviest recipient) and ordinary ones
  const { rows: heavy } = await pool.query<{ rcpt_to: string }>(
    `SELECT rcpt_to FROM rm_messages WHERE server_id = $1 AND message_id < 50000
      GROUP BY rcpt_to ORDER BY count(*) DESC LIMIT 1`,
    [serverId],
  );
  const recipients = [heavy[0]!.rcpt_to, ...(await sample('true', 9)).map((r) => r.rcpt_to)];
  // senders from the most common (a third of the server's mail) to the rarest (a support agent), in
  // other cases than stored; their domains (the server's own, its support subdomain, a survey's)
  const { rows: senderRows } = await pool.query<{ mail_from: string }>(
    `SELECT mail_from FROM rm_messages WHERE server_id = $1 AND message_id < 200000
      GROUP BY mail_from ORDER BY count(*) DESC`,
    [serverId],
  );
  const senderList = senderRows.map((r) => r.mail_from);
  const senders = [...senderList.slice(0, 5), ...senderList.slice(-3)].map((s, i) =>
    i % 2 ? s.toUpperCase() : s.toLowerCase(),
  );
  const senderDomains = [...new Set(senderList.map((s) => `@${s.slice(s.lastIndexOf('@') + 1).toLowerCase()}`))];
  // Message-IDs of old and recent messages, with and without their angle brackets
  const messageIds = (await sample('true', 10)).map((r, i) => (i % 2 ? `<${r.rfc_message_id}>` : r.rfc_message_id));
  const orders = (await sample(`tag IN ('shipping', 'receipt')`, 5)).map((r) => /PL-\d+/.exec(r.subject)![0]);
  const invoices = (await sample(`tag = 'invoice'`, 2)).map((r) => /INV-[\d-]+/.exec(r.subject)![0]);
  // mostly what people look for (an order, an invoice), some words: rare, middling and common
  const terms = [...orders, ...invoices, 'Sophie', 'survey', 'garden tools', 'password', 'digest'];
  const tags = [
    'newsletter',
    'shipping',
    'receipt',
    'password-reset',
    'verification',
    'welcome',
    'invoice',
    'survey-q3',
  ];
  const dayMs = 86_400_000;
  const now = Date.now();
  // a day, and a week, somewhere in the period
  const ranges = Array.from({ length: 10 }, (_, i) => {
    const until = now - ((i * 7) % (days - 7)) * dayMs;
    return { since: new Date(until - (i % 2 ? 7 : 1) * dayMs).toISOString(), until: new Date(until).toISOString() };
  });
  // the 5th page: the cursor the 4th gives, of the list, of a tag and of a status
  const fifthPageOf = async (q: Query): Promise<Query> => {
    let cursor: string | undefined;
    for (let page = 1; page < 5; page++) {
      const res = await http(app.httpUrl, 'GET', path({ ...q, ...(cursor ? { cursor } : {}) }), {
        headers: { cookie },
      });
      if (res.status !== 200 || !res.body.nextCursor) throw new Error(`page ${page}: ${res.status}`);
      cursor = res.body.nextCursor;
    }
    return { ...q, cursor: cursor! };
  };
  const server = { serverId };
  const fifthPages = [
    await fifthPageOf(server),
    await fifthPageOf({ ...server, tag: 'shipping' }),
    await fifthPageOf({ ...server, status: 'delivered' }),
  ];
  const kinds: Record<string, Query[]> = {
    firstPage: [server],
    recipient: recipients.map((recipient) => ({ ...server, recipient })),
    sender: senders.map((from) => ({ ...server, from })),
    senderDomain: senderDomains.map((from) => ({ ...server, from })),
    messageId: messageIds.map((messageId) => ({ ...server, messageId })),
    subject: terms.map((q) => ({ ...server, q })),
    tag: tags.map((tag) => ({ ...server, tag })),
    held: [{ ...server, status: 'held' }],
    dateRange: ranges.map((r) => ({ ...server, ...r })),
    fifthPage: fifthPages,
  };
  return kinds;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: +percentile(s, 50).toFixed(1), p95: +percentile(s, 95).toFixed(1), max: +s[s.length - 1]!.toFixed(1) };
};

/**
 * Each kind in turn, `rounds` times: at most `perKind` requests or `kindSeconds` a round, one after
 * another (one user), cycling through the kind's variants. Per kind: p50, p95 and max over every
 * round, each round's p95 (the spread), and the variant with the slowest median (what to EXPLAIN).
 */
async function measure(
  url: string,
  cookie: string,
  kinds: Record<string, Query[]>,
  options: { rounds: number; perKind: number; kindSeconds: number },
) {
  let errors = 0;
  let firstError: string | undefined;
  const get = async (q: Query) => {
    const t0 = performance.now();
    const res = await fetch(url + path(q), { headers: { cookie } });
    const body = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) {
      errors++;
      firstError ??= `${res.status} ${body.slice(0, 300)}`;
      return { ms, rows: 0 };
    }
    return { ms, rows: (JSON.parse(body) as { messages: unknown[] }).messages.length };
  };
  // warm-up: every variant once (the first requests compile the route's code paths)
  for (const qs of Object.values(kinds)) for (const q of qs) await get(q);
  const perRound: Record<string, number[][]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const perVariant: Record<string, number[][]> = Object.fromEntries(
    Object.entries(kinds).map(([k, qs]) => [k, qs.map(() => [])]),
  );
  const rows: Record<string, number> = {};
  for (let round = 1; round <= options.rounds; round++) {
    for (const [kind, qs] of Object.entries(kinds)) {
      const ms: number[] = [];
      const deadline = performance.now() + options.kindSeconds * 1000;
      for (let i = 0; i < options.perKind && performance.now() < deadline; i++) {
        const r = await get(qs[i % qs.length]!);
        ms.push(r.ms);
        perVariant[kind]![i % qs.length]!.push(r.ms);
        rows[kind] = (rows[kind] ?? 0) + r.rows;
      }
      perRound[kind]!.push(ms);
      const s = summary(ms);
      process.stderr.write(
        `round ${round} ${kind}: ${ms.length} requests, p50 ${s.p50} ms, p95 ${s.p95} ms, max ${s.max} ms\n`,
      );
    }
  }
  const results = Object.fromEntries(
    Object.entries(perRound).map(([kind, rounds]) => {
      const all = rounds.flat();
      const medians = perVariant[kind]!.map((ms) => (ms.length ? summary(ms).p50 : 0));
      const slowest = medians.indexOf(Math.max(...medians));
      const { serverId: _, ...variant } = kinds[kind]![slowest]!;
      return [
        kind,
        {
          ...summary(all),
          requests: all.length,
          variants: kinds[kind]!.length,
          rowsPerAnswer: +((rows[kind] ?? 0) / Math.max(1, all.length)).toFixed(1),
          roundP95: rounds.map((ms) => summary(ms).p95),
          slowestVariant: { ...variant, p50: medians[slowest]! },
        },
      ];
    }),
  );
  return { results, errors, firstError };
}

/**
 * `npm run bench -- dashboard`: the dashboard's message list (`GET /v2/messages` with a session
 * cookie) over BENCH_MESSAGES (1,000,000) messages in the read model, on a real Postlog (api role,
 * in this process) and its embedded PostgreSQL. One user's requests one after another, per query
 * kind (a recipient, a sender, a sender's domain, a Message-ID, …), on the busiest server (40 % of
 * all messages); BENCH_ROUNDS (3) rounds of each kind in turn, each kind at most BENCH_REQUESTS
 * (100) requests or BENCH_KIND_SECONDS (20 s) a round.
 * Target: p95 < 200 ms for every kind.
 */
export async function run() {
  const total = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const perKind = Number(process.env.BENCH_REQUESTS ?? 100);
  const kindSeconds = Number(process.env.BENCH_KIND_SECONDS ?? 20);
  const days = 60;
  const dataDir = mkdtempSync(join(tmpdir(), 'postlog-bench-dashboard-'));
  chmodSync(dataDir, 0o755); // as root the embedded server runs as "postgres"
  const configDir = mkdtempSync(join(tmpdir(), 'postlog-bench-dashboard-cfg-'));
  writeFileSync(join(configDir, 'postlog.yaml'), '');
  const config = loadConfig({
    env: {
      POSTLOG_DATA_DIR: dataDir,
      POSTLOG_EMBEDDED_PG_PORT: String(await freePort()),
      POSTLOG_HTTP_PORT: String(await freePort()),
      POSTLOG_HOSTNAME: 'postlog.bench',
      POSTLOG_ROLES: 'api',
      POSTLOG_LOG_LEVEL: 'warn',
      POSTLOG_API_RATE_LIMIT: '1000000',
    },
    file: join(configDir, 'postlog.yaml'),
  });
  const app = await startPostlog(config, logger);
  try {
    process.stderr.write(`postlog (api role) on ${app.httpUrl}, embedded PostgreSQL\n`);
    const { servers, organizations } = await createServers(app);
    const filled = await fill(app, servers, total, days);
    const busiest = servers[0]!;
    const cookie = await logIn(app, organizations[0]!);
    const kinds = await queryKinds(app, busiest, cookie, days);
    const { results, errors, firstError } = await measure(app.httpUrl, cookie, kinds, { rounds, perKind, kindSeconds });
    const { rows: busiestRows } = await app.database.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM rm_messages WHERE server_id = $1',
      [busiest],
    );
    const load = loadavg()[0]!;
    process.stderr.write(`load average at the end: ${load.toFixed(1)} on ${cpus().length} cores\n`);
    const worstP95 = Math.max(...Object.values(results).map((r) => r.p95));
    return {
      bench: 'dashboard',
      messages: total,
      servers: SERVER_SHARES.length,
      busiestServerMessages: busiestRows[0]!.n,
      days,
      fill: filled,
      rounds,
      queries: results,
      errors,
      ...(firstError ? { firstError } : {}),
      loadAverage: +load.toFixed(1),
      worstP95Ms: worstP95,
      targets: { p95Ms: TARGET_P95_MS },
      meetsTargets: errors === 0 && worstP95 < TARGET_P95_MS,
    };
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(configDir, { recursive: true, force: true });
  }
}
