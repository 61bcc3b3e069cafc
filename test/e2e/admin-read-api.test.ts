import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateServer, systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';

describe('admin read API: list and search messages, stats, queue, metrics', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  const get = (path: string, headers: Record<string, string>) => http(t.url, 'GET', path, { headers });
  const key = (x: Tenant) => ({ 'X-Server-API-Key': x.apiKey });

  before(async () => {
    t = await startTestApp({ POSTLOG_ROLES: 'api,projector' });
    a = await createTenant(t.app, { domain: 'a.test' });
    b = await createTenant(t.app, { domain: 'b.test', mode: 'development' });
    const send = (x: Tenant, from: string, to: string[], subject: string, tag?: string) =>
      http(t.url, 'POST', '/v2/messages', {
        body: { from, to, subject, text: 'x', ...(tag ? { tag } : {}) },
        headers: key(x),
      });
    await send(a, 'app@a.test', ['one@example.org', 'two@example.org'], 'Invoice 100%_ready', 'billing');
    await send(a, 'app@a.test', ['three@example.net'], 'Welcome aboard', 'welcome');
    await send(b, 'app@b.test', ['four@example.org'], 'Dev message');
    const deadline = Date.now() + 10_000;
    while ((await t.db.pool.query('SELECT count(*)::int AS n FROM rm_messages')).rows[0].n < 4 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => t.stop());

  it("lists a server's messages newest first, with filters and a cursor", async () => {
    const all = await get('/v2/messages', key(a));
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.messages.map((m: { to: string }) => m.to).sort(), [
      'one@example.org',
      'three@example.net',
      'two@example.org',
    ]);
    const page1 = await get('/v2/messages?limit=2', key(a));
    assert.equal(page1.body.messages.length, 2);
    const page2 = await get(`/v2/messages?limit=2&cursor=${page1.body.nextCursor}`, key(a));
    assert.equal(page2.body.messages.length, 1);
    assert.equal(page2.body.nextCursor, null);
    const ids = [...page1.body.messages, ...page2.body.messages].map((m: { id: string }) => m.id);
    assert.equal(new Set(ids).size, 3);
    assert.deepEqual(
      (await get('/v2/messages?tag=welcome', key(a))).body.messages.map((m: { to: string }) => m.to),
      ['three@example.net'],
    );
    assert.deepEqual((await get('/v2/messages?recipient=ONE@example.org', key(a))).body.messages.length, 1);
    assert.equal(
      (await get(`/v2/messages?q=${encodeURIComponent('100%_')}`, key(a))).body.messages.length,
      2,
      'LIKE wildcards are literal',
    );
    assert.equal((await get('/v2/messages?q=nothing-like-this', key(a))).body.messages.length, 0);
    assert.equal((await get('/v2/messages?status=queued', key(a))).body.messages.length, 3);
    assert.equal((await get('/v2/messages?cursor=garbage', key(a))).status, 400);
  });

  it('keeps tenants apart: a key sees its server, an org admin its organization', async () => {
    assert.deepEqual(
      (await get('/v2/messages', key(b))).body.messages.map((m: { to: string; status: string }) => [m.to, m.status]),
      [['four@example.org', 'held']],
    );
    assert.equal((await get(`/v2/messages?serverId=${a.server.id}`, key(b))).status, 404);
    const admin = { authorization: `Bearer ${a.adminToken}` };
    assert.equal((await get('/v2/messages', admin)).body.messages.length, 3);
    assert.equal((await get(`/v2/messages?serverId=${b.server.id}`, admin)).status, 404);
  });

  it('reports daily stats and the queue per destination', async () => {
    const stats = await get('/v2/stats', key(a));
    assert.equal(stats.body.totals.accepted, 3);
    const statsB = await get('/v2/stats', key(b));
    assert.deepEqual([statsB.body.totals.accepted, statsB.body.totals.held], [1, 1]);
    const queue = await get('/v2/queue', key(a));
    const byDomain = Object.fromEntries(
      queue.body.destinations.map((d: { domain: string; queued: number }) => [d.domain, d.queued]),
    );
    assert.deepEqual(byDomain, { 'example.org': 2, 'example.net': 1 });
  });

  it('exposes Prometheus metrics: events appended, projection lag, queue depth', async () => {
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /postlog_events_appended_total \d+/);
    assert.match(metrics, /postlog_projection_lag_events\{projection="message-read-models"\} \d+/);
    assert.match(metrics, /postlog_projection_lag_seconds\{projection="delivery-queue"\} [\d.]+/);
    assert.match(metrics, /postlog_queue_depth\{destination="example.org",state="queued"\} 2/);
    assert.match(metrics, /postlog_http_requests_total\{method="GET",route="\/v2\/messages",status="200"\}/);
  });

  it("an organization of two servers: its admin sees both, a server's filter or key one", async () => {
    // one server is read as `server_id = x`, several as `= ANY(…)`: both must keep to their servers
    const c = await createTenant(t.app, { domain: 'c.test' });
    const actor = systemActor('test');
    const second = await t.app.tenancy.createServer(
      actor,
      c.organizationId,
      CreateServer.parse({ name: 'Second', mode: 'live', ipPool: null }),
    );
    assert.ok(second.ok);
    const c2 = second.value.id;
    assert.ok((await t.app.tenancy.createDomain(actor, c2, { name: 'c2.test', verified: true, ed25519: false })).ok);
    const c2Key = await t.app.tenancy.createCredential(actor, c2, { kind: 'api', name: 'test' });
    assert.ok(c2Key.ok);
    const sendTo = async (apiKey: string, from: string, to: string) =>
      assert.equal(
        (
          await http(t.url, 'POST', '/v2/messages', {
            body: { from, to: [to], subject: 'Hello', text: 'x' },
            headers: { 'X-Server-API-Key': apiKey },
          })
        ).status,
        202,
      );
    await sendTo(c.apiKey, 'app@c.test', 'first@example.org');
    await sendTo(c2Key.value.secret, 'app@c2.test', 'second@example.org');
    const admin = { authorization: `Bearer ${c.adminToken}` };
    const recipients = async (path: string, headers: Record<string, string>) =>
      (await get(path, headers)).body.messages.map((m: { to: string }) => m.to).sort();
    await eventually(
      async () => ((await recipients('/v2/messages', admin)).length === 2 ? true : undefined),
      () => 'both messages in the read model',
    );
    assert.deepEqual(await recipients('/v2/messages', admin), ['first@example.org', 'second@example.org']);
    assert.deepEqual(await recipients(`/v2/messages?serverId=${c2}`, admin), ['second@example.org']);
    assert.deepEqual(await recipients(`/v2/messages?serverId=${c.server.id}`, admin), ['first@example.org']);
    assert.deepEqual(await recipients('/v2/messages', { 'X-Server-API-Key': c2Key.value.secret }), [
      'second@example.org',
    ]);
  });

  /** A new tenant's messages, sent and waited for in the read model (its own server: counts start at 0). */
  async function tenantWith(domain: string, sends: { from: string; to: string[]; subject: string }[]) {
    const x = await createTenant(t.app, { domain });
    for (const m of sends) {
      const res = await http(t.url, 'POST', '/v2/messages', { body: { ...m, text: 'x' }, headers: key(x) });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    const rows = sends.reduce((n, m) => n + m.to.length, 0);
    await eventually(
      async () => ((await get('/v2/messages', key(x))).body.messages.length === rows ? true : undefined),
      () => `${rows} messages of ${domain} in the read model`,
    );
    return x;
  }

  it('filters by sender (an address or @domain, any case), by Message-ID (with or without <>) and by batch', async () => {
    const d = await tenantWith('d.test', [
      { from: 'App@d.test', to: ['x1@example.com'], subject: 'First' },
      { from: 'news@d.test', to: ['x2@example.com'], subject: 'Second' },
      { from: 'app@d.test', to: ['x3@example.com', 'x4@example.com'], subject: 'Third' },
    ]);
    assert.ok(
      (
        await t.app.tenancy.createDomain(systemActor('test'), d.server.id, {
          name: 'news.d.test',
          verified: true,
          ed25519: false,
        })
      ).ok,
    );
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'offers@news.d.test', to: ['x5@example.com'], subject: 'Fourth', text: 'x' },
      headers: key(d),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await eventually(
      async () => ((await get('/v2/messages', key(d))).body.messages.length === 5 ? true : undefined),
      () => 'the fifth message in the read model',
    );
    const to = async (query: string, headers = key(d)) => {
      const answer = await get(`/v2/messages?${query}`, headers);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.messages.map((m: { to: string }) => m.to).sort();
    };
    const fromApp = ['x1@example.com', 'x3@example.com', 'x4@example.com'];
    assert.deepEqual(await to('from=app@d.test'), fromApp);
    assert.deepEqual(await to('from=APP@D.TEST'), fromApp, 'an address in any case');
    assert.deepEqual(await to(`from=${encodeURIComponent('@D.test')}`), [...fromApp, 'x2@example.com'].sort());
    assert.deepEqual(
      await to(`from=${encodeURIComponent('@news.d.test')}`),
      ['x5@example.com'],
      'the domain, not its subdomains',
    );
    assert.deepEqual(await to('from=app@d.test&q=Third'), ['x3@example.com', 'x4@example.com']);
    // another server's sender is not found, even when named
    assert.deepEqual(await to('from=app@a.test'), []);
    assert.deepEqual(await to(`from=${encodeURIComponent('@a.test')}`), []);

    // the API gives each recipient a message of its own, with its own Message-ID
    const x4 = (await get('/v2/messages?recipient=x4@example.com', key(d))).body.messages[0].rfcMessageId as string;
    assert.match(x4, /^[^<>]+@[^<>]+$/);
    for (const id of [x4, `<${x4}>`, ` <${x4}> `])
      assert.deepEqual(await to(`messageId=${encodeURIComponent(id)}`), ['x4@example.com'], id);
    assert.deepEqual(await to(`messageId=${encodeURIComponent(x4)}&recipient=x3@example.com`), []);
    // a send request's messages by its batch id (what SendGrid's X-Message-Id names)
    const third = (await get('/v2/messages?recipient=x3@example.com', key(d))).body.messages[0].batchId as string;
    assert.deepEqual(await to(`batch=${third}`), ['x3@example.com', 'x4@example.com']);
    assert.deepEqual(await to(`batch=${res.body.batch_id}`), ['x5@example.com']);
    assert.deepEqual(await to('batch=no-such-batch'), []);
    const ofA = (await get('/v2/messages', key(a))).body.messages[0].rfcMessageId as string;
    assert.deepEqual(await to(`messageId=${encodeURIComponent(ofA)}`), [], "another server's Message-ID");
    assert.equal((await to(`messageId=${encodeURIComponent(ofA)}`, key(a))).length, 1, 'found by its own server');

    for (const bad of ['from=', `from=${encodeURIComponent('@')}`, `messageId=${encodeURIComponent('<>')}`]) {
      const answer = await get(`/v2/messages?${bad}`, key(d));
      assert.equal(answer.status, 400, bad);
      assert.equal(answer.body.code, 'VALIDATION_FAILED', bad);
    }
  });

  /** RFC 4180 records (quoted fields with doubled quotes and line breaks), lines ending in CRLF. */
  function parseCsv(text: string): string[][] {
    const records: string[][] = [];
    let record: string[] = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') record.push(field), (field = '');
      else if (c === '\r' && text[i + 1] === '\n') {
        record.push(field);
        records.push(record);
        (record = []), (field = ''), i++;
      } else field += c;
    }
    assert.equal(field + record.join(''), '', 'the text ends with CRLF');
    return records;
  }
  const csv = async (query: string, headers: Record<string, string>) => {
    const res = await fetch(`${t.url}/v2/messages.csv${query}`, { headers });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  it('exports the filtered list as CSV: quoting, the formula guard, a row limit, one tenant only', async () => {
    const subjects = [
      '=HYPERLINK("http://evil.example","click")',
      'Price, "quoted" and more',
      '-5% today',
      '@channel news',
      '+1 for this',
      'Plain',
    ];
    const e = await tenantWith(
      'e.test',
      subjects.map((subject, i) => ({ from: 'shop@e.test', to: [`buyer${i}@example.com`], subject })),
    );
    const all = await csv('', key(e));
    assert.equal(all.status, 200, all.text);
    assert.equal(all.headers.get('content-type'), 'text/csv; charset=utf-8');
    const day = new Date().toISOString().slice(0, 10);
    assert.equal(all.headers.get('content-disposition'), `attachment; filename="messages-${e.server.id}-${day}.csv"`);
    assert.equal(all.headers.get('x-row-limit'), '100000');
    const [header, ...rows] = parseCsv(all.text);
    assert.deepEqual(header, ['id', 'accepted_at', 'status', 'from', 'to', 'subject', 'tag', 'attempts', 'last_reply']);
    assert.equal(rows.length, subjects.length);
    // newest first, as the list
    const listed = (await get('/v2/messages', key(e))).body.messages as { id: string; subject: string }[];
    assert.deepEqual(
      rows.map((r) => r[0]),
      listed.map((m) => m.id),
    );
    const guarded = (s: string) => (/^[=+\-@]/.test(s) ? `'${s}` : s);
    assert.deepEqual(rows.map((r) => r[5]).sort(), subjects.map(guarded).sort());
    for (const r of rows) {
      assert.equal(r.length, 9, r.join('|'));
      assert.deepEqual([r[2], r[3], r[6], r[7], r[8]], ['queued', 'shop@e.test', '', '0', '']);
      assert.ok(!Number.isNaN(Date.parse(r[1]!)), r[1]);
    }
    assert.ok(all.text.includes(`"'=HYPERLINK(""http://evil.example"",""click"")"`), all.text);
    assert.ok(all.text.includes('"Price, ""quoted"" and more"'), all.text);

    // the list's filters
    const one = await csv(`?q=${encodeURIComponent('Price,')}&from=SHOP@e.test`, key(e));
    assert.deepEqual(
      parseCsv(one.text)
        .slice(1)
        .map((r) => r[5]),
      ['Price, "quoted" and more'],
    );
    // the limit: a last line says that more match; none when exactly all fit
    const cut = await csv('?limit=2', key(e));
    assert.equal(cut.headers.get('x-row-limit'), '2');
    const cutRows = parseCsv(cut.text);
    assert.equal(cutRows.length, 4, cut.text);
    assert.deepEqual(
      cutRows.slice(1, 3).map((r) => r[0]),
      listed.slice(0, 2).map((m) => m.id),
    );
    assert.match(cutRows[3]!.join(','), /^# more messages match than the limit of 2/);
    assert.equal(parseCsv((await csv(`?limit=${subjects.length}`, key(e))).text).length, subjects.length + 1);

    // one tenant only: another server's messages never appear, and another server cannot be named
    const ofA = parseCsv((await csv('', key(a))).text).slice(1);
    assert.equal(ofA.length, 3);
    assert.ok(
      ofA.every((r) => r[3] === 'app@a.test'),
      JSON.stringify(ofA),
    );
    assert.equal((await csv(`?serverId=${a.server.id}`, key(e))).status, 404);
    assert.equal((await csv(`?serverId=${e.server.id}`, { authorization: `Bearer ${a.adminToken}` })).status, 404);
    const orgA = parseCsv((await csv('', { authorization: `Bearer ${a.adminToken}` })).text).slice(1);
    assert.deepEqual(orgA.map((r) => r[0]).sort(), ofA.map((r) => r[0]).sort());
    assert.equal((await csv('', {})).status, 401);
    assert.equal((await csv('?limit=100001', key(e))).status, 400);
  });

  it('exports more rows than one page of its query (1,000), in list order, none twice', async () => {
    const f = await createTenant(t.app, { domain: 'f.test' });
    // read-model rows as the projection writes them (times in milliseconds, as events carry them; the
    // cursor does too), without sending 2,500 messages; many share a time: the id orders them
    await t.db.pool.query(
      `INSERT INTO rm_messages (message_id, server_id, batch_id, rfc_message_id, mail_from, rcpt_to, recipient_domain,
              subject, source, size, status, accepted_at, last_event_at)
       SELECT 50000000 + i, $1, 'b', i || '@f.test', 'bulk@f.test', 'r' || i || '@example.net', 'example.net',
              'Bulk ' || i, 'api', 100, 'delivered', t0 - (i % 7) * interval '1 second', t0
         FROM generate_series(1, 2500) AS i, date_trunc('milliseconds', now()) AS t0`,
      [f.server.id],
    );
    const whole = parseCsv((await csv('', key(f))).text).slice(1);
    assert.equal(whole.length, 2500);
    assert.equal(new Set(whole.map((r) => r[0])).size, 2500);
    const order = whole.map((r) => [Date.parse(r[1]!), Number(r[0])] as const);
    for (let i = 1; i < order.length; i++) {
      const [[at0, id0], [at1, id1]] = [order[i - 1]!, order[i]!];
      assert.ok(at0 > at1 || (at0 === at1 && id0 > id1), `row ${i} follows row ${i - 1} in list order`);
    }
    // the limit on a page's edge: 1,000 rows, then the note
    const thousand = parseCsv((await csv('?limit=1000', key(f))).text).slice(1);
    assert.equal(thousand.length, 1001);
    assert.deepEqual(
      thousand.slice(0, 1000).map((r) => r[0]),
      whole.slice(0, 1000).map((r) => r[0]),
    );
    assert.match(thousand[1000]![0]!, /^# more messages match/);
  });
});
