import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import { startMariaDb, type MariaDb } from '../helpers/mariadb.js';
import { freePort } from '../helpers/ports.js';
import {
  baseEnv,
  type PostlogProcess,
  runCli,
  startPostlogProcess,
  stopLeftoverPostlogProcesses,
  tempDataDir,
} from '../helpers/postlog-process.js';
import { smtpRaw } from '../helpers/smtp-raw.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

// compiled to dist/test/e2e: the sources are three folders up
const fixture = readFileSync(
  resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/postal-schema.sql'),
  'utf8',
);
/** The fixture's Postal API key, SMTP password and DKIM key (domain example.com, selector postal-ABCDEF). */
const API_KEY = 'PostalApiKey000000000001';
const SMTP_PASSWORD = 'PostalSmtpPass0000000001';
const DKIM_NAME = 'postal-ABCDEF._domainkey.example.com';
const dkimPublicRecord = () => {
  const pem = /'(-----BEGIN RSA PRIVATE KEY-----[^']+)'/.exec(fixture)![1]!.replace(/\\n/g, '\n');
  const spki = createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' });
  return `v=DKIM1; k=rsa; p=${spki.toString('base64')}`;
};

interface Outcome {
  kind: string;
  postalId: string;
  what: string;
  action: string;
  postlogId: string | null;
}
interface Report {
  dryRun: boolean;
  outcomes: Outcome[];
  suppressions: number;
  ipPoolsYaml: string;
  notCarriedOver: { what: string; reason: string }[];
  messages?: {
    days: number;
    imported: number;
    existing: number;
    withBody: number;
    failed: unknown[];
    unread: { server: string; reason: string }[];
  };
}

describe('postlog import postal: a Postal 3.x MariaDB into Postlog, no DNS record, key or password changing', () => {
  let maria: MariaDb;
  let sink: SmtpSink;
  let env: Record<string, string>;
  let postlog: PostlogProcess;
  /** The tenancy after the first import, as the CLI lists it. */
  let imported: Awaited<ReturnType<typeof tenancy>>;
  const cli = async (args: string[]) => {
    const r = await runCli(args, env);
    assert.equal(r.code, 0, `postlog ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const importPostal = (...extra: string[]) =>
    cli(['import', 'postal', '--mysql', maria.url('postal'), '--json', ...extra]) as Promise<Report>;
  let adminToken: string | undefined;
  /** The headers of a global admin token (made once). */
  const admin = async () => {
    adminToken ??= ((await cli(['admin-token', 'create', '--json'])) as { token: string }).token;
    return { authorization: `Bearer ${adminToken}` };
  };
  /** The counts of a --messages-days report, and the servers whose message database was not read. */
  const history = (m: Report['messages']) => m && { ...m, unread: m.unread.map((u) => u.server) };
  const kinds = (r: Report) => r.outcomes.map((o) => `${o.kind} ${o.postalId}`).sort();
  /** What the tenancy holds, as the CLI lists it. */
  const tenancy = async () => {
    const orgs = (await cli(['org', 'list', '--json'])) as { id: string; name: string }[];
    const out = [];
    for (const o of orgs)
      for (const s of (await cli(['server', 'list', '--org', o.id, '--json'])) as { id: string; name: string }[])
        out.push({
          org: o.name,
          server: s,
          domains: await cli(['domain', 'list', '--server', s.id, '--json']),
          credentials: await cli(['credential', 'list', '--server', s.id, '--json']),
        });
    return out;
  };

  before(async () => {
    maria = await startMariaDb();
    await maria.execute(fixture);
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.9', sinkPort, { tls: false });
    env = await baseEnv(tempDataDir('postlog-import-'), {
      POSTLOG_SMART_HOST: `127.0.0.9:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
    });
    // the CLI works on the data dir of a running Postlog (and is quicker so than starting its database)
    // a loaded machine (a whole suite on two cores) can take long to start the two processes
    postlog = await startPostlogProcess(env, 90_000);
  });
  after(async () => {
    await stopLeftoverPostlogProcesses();
    await sink?.close();
    await maria?.stop();
  });

  const EXPECTED = [
    'credential 1',
    'credential 2',
    'credential 3',
    'domain 1@1',
    'domain 2@1',
    'domain 2@2',
    'organization 1',
    'route 1',
    'route 2',
    'route 3',
    'server 1',
    'server 2',
    'webhook 1',
  ];

  it('--dry-run lists what it would create and writes nothing', async () => {
    const report = await importPostal('--dry-run');
    assert.equal(report.dryRun, true);
    assert.deepEqual(kinds(report), EXPECTED);
    assert.ok(report.outcomes.every((o) => o.action === 'would-create'));
    assert.equal(report.suppressions, 1, 'the entry that still holds');
    assert.deepEqual(await tenancy(), []);
  });

  it('creates the tenancy once, lists what it cannot carry over, and prints the IP pool configuration', async () => {
    const report = await importPostal();
    assert.deepEqual(kinds(report), EXPECTED);
    assert.deepEqual(
      report.outcomes.filter((o) => o.action !== 'created'),
      [],
    );
    assert.equal(report.suppressions, 1);
    const notCarried = report.notCarriedOver.map((n) => n.what);
    for (const expected of [
      'SMTP-IP credential anyone (acme/mail): 0.0.0.0/0',
      'server old',
      'suppression list of acme/staging',
      '1 dashboard user',
      // Postlog takes a postmaster address at a verified domain only: acme.test is not verified
      'postmaster address postmaster@acme.test of acme/staging',
      'additional endpoint SMTPEndpoint 2 of route help@example.com (acme/mail)',
      '"allow sender" of acme/mail',
      'raw message retention size (2048 MB) of acme/mail',
    ])
      assert.ok(notCarried.includes(expected), `${expected} in ${JSON.stringify(notCarried)}`);
    for (const carried of ['SMTP-IP credential office', 'privacy mode', 'postmaster address postmaster@example.com'])
      assert.ok(!notCarried.some((n) => n.startsWith(carried)), `${carried} is carried over`);
    assert.match(
      report.ipPoolsYaml,
      /^ipPools:\n {2}main-pool: .*\n {4}- address: 192\.0\.2\.25\n {6}ehlo: mta1\.acme\.test\n/,
    );

    imported = await tenancy();
    const [mail, staging] = imported;
    assert.equal(mail!.org, 'Acme');
    assert.deepEqual(
      [mail!.server, staging!.server].map((s) => {
        const x = s as unknown as Record<string, unknown>;
        return [x.name, x.mode, x.sendLimitPerHour, x.retentionDays, x.ipPool, x.trackingBaseUrl, x.trackOpens];
      }),
      [
        ['Mail', 'live', 1000, 30, 'main-pool', 'https://track.example.com', false],
        ['Staging', 'development', null, 7, 'main-pool', null, false],
      ],
    );
    assert.deepEqual(
      [mail!.server, staging!.server].map((s) => {
        const x = s as unknown as Record<string, unknown>;
        return [x.privacyMode, x.spamThreshold, x.spamFailThreshold, x.outboundSpamThreshold, x.postmasterAddress];
      }),
      [
        [false, 5, 20, 8.5, 'postmaster@example.com'],
        [true, 4.5, 20, null, null],
      ],
    );
    const domains = mail!.domains as { name: string; verified: boolean; dkimKeys: { selector: string }[] }[];
    assert.deepEqual(
      domains.map((d) => [d.name, d.verified, d.dkimKeys.length]),
      [
        ['acme.test', false, 1],
        ['example.com', true, 1],
      ],
    );
    assert.equal(domains[1]!.dkimKeys[0]!.selector, 'postal-ABCDEF');
    const published = (domains[1] as unknown as { dnsRecords: { name: string; value: string }[] }).dnsRecords.find(
      (r) => r.name === DKIM_NAME,
    );
    assert.equal(published?.value, dkimPublicRecord(), 'the record Postal published, unchanged');
    assert.deepEqual(
      (mail!.credentials as { kind: string; name: string }[]).map((c) => [c.kind, c.name]),
      [
        ['api', 'app'],
        ['smtp', 'relay'],
        ['smtp-ip', 'office'],
      ],
    );
    const office = (mail!.credentials as { kind: string; identifier: string }[]).find((c) => c.kind === 'smtp-ip');
    assert.equal(office?.identifier, '127.0.0.0/8');

    const res = await fetch(`${postlog.url}/v2/servers/${mail!.server.id}/routes`, { headers: await admin() });
    assert.equal(res.status, 200);
    const { routes } = (await res.json()) as {
      routes: {
        address: string;
        mode: string;
        spamMode: string;
        endpoints: { kind: string; target: string; format: string; timeoutSeconds: number }[];
      }[];
    };
    assert.deepEqual(
      routes.map((r) => [
        r.address,
        r.mode,
        r.spamMode,
        r.endpoints.map((e) => [e.kind, e.target, e.format, e.timeoutSeconds]),
      ]),
      [
        ['*@example.com', 'reject', 'mark', []],
        [
          'help@example.com',
          'endpoint',
          'quarantine',
          [
            ['smtp', 'mx.helpdesk.test:2525', 'json', 30],
            ['address', 'team@acme.test', 'json', 30],
            ['http', 'https://archive.acme.test/raw', 'raw', 15],
          ],
        ],
        ['support@example.com', 'endpoint', 'mark', [['http', 'https://app.acme.test/inbound', 'json', 30]]],
      ],
    );
  });

  it('a rerun creates nothing twice', async () => {
    const report = await importPostal();
    assert.deepEqual(kinds(report), EXPECTED);
    assert.deepEqual(
      report.outcomes.filter((o) => o.action !== 'exists'),
      [],
    );
    assert.deepEqual(await tenancy(), imported);
  });

  it("sends with Postal's API key, SMTP password (any username) and SMTP-IP range, DKIM-signed with its key", async () => {
    const received = async (to: string) => {
      const deadline = Date.now() + 30_000;
      while (!sink.received.some((m) => m.to.includes(to)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const mail = sink.received.find((m) => m.to.includes(to));
      assert.ok(mail, `${to} received its message:\n${postlog.output().slice(-3000)}`);
      return mail;
    };
    const dkim = async (raw: Buffer) => {
      const verdict = (await dkimVerify(raw, {
        resolver: async (name: string, rr: string) =>
          rr === 'TXT' && name === DKIM_NAME
            ? [[dkimPublicRecord()]]
            : Promise.reject(Object.assign(new Error('no'), { code: 'ENOTFOUND' })),
      } as never)) as { results: { signingDomain: string; selector: string; status: { result: string } }[] };
      return verdict.results.map((r) => [r.signingDomain, r.selector, r.status.result]);
    };

    const res = await fetch(`${postlog.url}/api/v1/send/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Server-API-Key': API_KEY },
      body: JSON.stringify({
        from: 'hello@example.com',
        to: ['api@example.org'],
        subject: 'via API',
        plain_body: 'hi',
      }),
    });
    const body = (await res.json()) as { status: string };
    assert.equal(body.status, 'success', JSON.stringify(body));
    assert.deepEqual(await dkim((await received('api@example.org')).raw), [['example.com', 'postal-ABCDEF', 'pass']]);

    const reply = await smtpRaw({
      port: Number(env.POSTLOG_SUBMISSION_TLS_PORT),
      tls: true,
      // Postal checks the password alone: clients were set up with any username
      auth: { user: 'acme/mail', pass: SMTP_PASSWORD },
      from: 'hello@example.com',
      to: 'smtp@example.org',
      data: Buffer.from('From: hello@example.com\r\nTo: smtp@example.org\r\nSubject: via SMTP\r\n\r\nhi\r\n'),
    });
    assert.match(reply, /^250 /);
    assert.deepEqual(await dkim((await received('smtp@example.org')).raw), [['example.com', 'postal-ABCDEF', 'pass']]);

    // Postal's SMTP-IP credential 127.0.0.0/8: a client from 127.0.0.1 submits without AUTH
    await nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: Number(env.POSTLOG_SUBMISSION_PORT),
        secure: false,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
      })
      .sendMail({ from: 'hello@example.com', to: 'by-ip@example.org', subject: 'via SMTP-IP', text: 'hi' });
    assert.deepEqual(await dkim((await received('by-ip@example.org')).raw), [['example.com', 'postal-ABCDEF', 'pass']]);
  });

  it("--messages-days imports Postal's recent history once: listed, shown with its body, never sent", async () => {
    const sent = sink.received.length;
    const dry = await importPostal('--dry-run', '--messages-days', '45');
    // 4 of the 5 messages are within 45 days; only the one sent two days ago still has its body within
    // the server's 30 days (the failed one's was gone, the incoming one's is not taken, one is too old)
    assert.deepEqual(history(dry.messages), {
      days: 45,
      imported: 4,
      existing: 0,
      withBody: 1,
      failed: [],
      unread: ['acme/staging'],
    });
    const first = await importPostal('--messages-days', '45');
    assert.deepEqual(history(first.messages), {
      days: 45,
      imported: 4,
      existing: 0,
      withBody: 1,
      failed: [],
      unread: ['acme/staging'],
    });
    assert.deepEqual(
      first.outcomes.filter((o) => o.action !== 'exists'),
      [],
    );
    assert.ok(first.notCarriedOver.some((n) => n.what === 'message history before the last 45 days, and statistics'));
    const again = await importPostal('--messages-days', '45');
    assert.deepEqual(history(again.messages), {
      days: 45,
      imported: 0,
      existing: 4,
      withBody: 0,
      failed: [],
      unread: ['acme/staging'],
    });
    const dryAgain = await importPostal('--dry-run', '--messages-days', '45');
    assert.deepEqual(history(dryAgain.messages), {
      days: 45,
      imported: 0,
      existing: 4,
      withBody: 0,
      failed: [],
      unread: ['acme/staging'],
    });

    const serverId = imported[0]!.server.id;
    type Row = { id: string; to: string; status: string; source: string; attempts: number; opens: number };
    type Listed = Row & { clicks: number; direction: string; tag: string | null };
    /** The imported messages the list shows (outgoing or incoming ones), once the read model has them. */
    const listed = async (direction: string, count: number) => {
      let rows: Listed[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const res = await fetch(`${postlog.url}/v2/messages?serverId=${serverId}&direction=${direction}&limit=100`, {
          headers: await admin(),
        });
        assert.equal(res.status, 200);
        rows = ((await res.json()) as { messages: Listed[] }).messages.filter((m) => m.source === 'postal-import');
        if (rows.length >= count) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      return rows;
    };
    const rows = await listed('outgoing', 3);
    const show = (m: Listed) => [m.to, m.direction, m.status, m.attempts, m.opens, m.clicks, m.tag];
    assert.deepEqual(
      rows.map(show),
      [
        ['old@example.org', 'outgoing', 'delivered', 2, 2, 1, 'news'],
        ['nobody@example.org', 'outgoing', 'failed', 1, 0, 0, null],
        ['ancient@example.org', 'outgoing', 'delivered', 1, 0, 0, null],
      ],
      'newest first, as Postal had them',
    );
    const incoming = await listed('incoming', 1);
    assert.deepEqual(incoming.map(show), [['support@example.com', 'incoming', 'delivered', 0, 0, 0, null]]);

    const page = async (id: string) => {
      const res = await fetch(`${postlog.url}/v2/messages/${id}`, { headers: await admin() });
      assert.equal(res.status, 200);
      return (await res.json()) as Record<string, unknown> & { deliveries: { outcome: string; smtpCode: number }[] };
    };
    const sentOne = await page(rows[0]!.id);
    assert.deepEqual(
      [sentOne.source, sentOne.status, sentOne.token, sentOne.rfcMessageId, sentOne.subject, sentOne.imported],
      [
        'postal-import',
        'delivered',
        'tok1sent0001',
        'sent1@example.com',
        'Sent from Postal',
        {
          system: 'postal',
          serverId: 1,
          messageId: 1,
          status: 'Sent',
          opens: 2,
          clicks: 1,
          importedAt: (sentOne.imported as { importedAt: string }).importedAt,
        },
      ],
    );
    assert.deepEqual(
      sentOne.deliveries.map((d) => [d.outcome, d.smtpCode]),
      [
        ['deferred', 451],
        ['delivered', 250],
      ],
    );
    const raw = await fetch(`${postlog.url}/v2/messages/${rows[0]!.id}/raw`, { headers: await admin() });
    assert.equal(raw.status, 200);
    assert.equal(
      await raw.text(),
      'From: hello@example.com\r\nTo: old@example.org\r\nSubject: Sent from Postal\r\n' +
        'Message-ID: <sent1@example.com>\r\n\r\nHello from Postal.\r\n',
      "Postal's headers and body, joined as Postal joins them",
    );
    for (const gone of [rows[1]!, rows[2]!, incoming[0]!]) {
      const res = await fetch(`${postlog.url}/v2/messages/${gone.id}/raw`, { headers: await admin() });
      assert.equal(res.status, 410, `${gone.to}: no body`);
    }

    // history only: nothing is sent, and nothing can be done to it
    const retry = await fetch(`${postlog.url}/v2/messages/${rows[1]!.id}/redeliver`, {
      method: 'POST',
      headers: await admin(),
    });
    assert.equal(retry.status, 409, 'MESSAGE_ALREADY_FINAL: an imported history is read-only');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sink.received.length, sent, 'no imported message was delivered');
  });
});
