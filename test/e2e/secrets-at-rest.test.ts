import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import { generate } from 'otplib';
import { systemActor } from '../../domain/index.js';
import { sealedColumns } from '../../app/services.js';
import {
  prepareSealedSecrets,
  SECRETS_KEY_FILE,
  SecretBox,
  sealPlaintextSecrets,
  secretKeyId,
} from '../../infra/secrets/index.js';
import { verifyPostlogSignature } from '../../infra/webhooks/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { captureLogs } from '../helpers/log-capture.js';
import { freePort } from '../helpers/ports.js';
import { runCli, tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const PASSWORD = 'correct horse battery staple 26';

/**
 * Secrets Postlog reads back (DKIM keys, tracking keys, webhook secrets and signing key, TOTP
 * secrets, SMTP passwords) are sealed with the secrets key: the tables read directly hold none of
 * them, everything still works through the real entry points, and `postlog secrets rotate` re-seals
 * while Postlog runs and sends.
 */
describe('secrets at rest', () => {
  let t: TestApp;
  let tenant: Tenant;
  let sink: SmtpSink;
  let receiver: WebhookReceiver;
  let dataDir: string;
  let dkimTxt: { name: string; value: string };
  let webhookSecret: string;
  let totpSecret: string;
  const appLogs = captureLogs('warn');

  const key = (x: Tenant) => ({ 'X-Server-API-Key': x.apiKey });
  const cliEnv = () => ({
    ...(process.env as Record<string, string>),
    POSTLOG_DATABASE_URL: t.db.url,
    POSTLOG_DATA_DIR: dataDir,
    POSTLOG_LOG_LEVEL: 'error',
  });
  /** The keys of the data dir's key file, as Postlog reads them. */
  const fileBox = () => {
    const keys = readFileSync(join(dataDir, SECRETS_KEY_FILE), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => Buffer.from(l.trim(), 'base64'));
    return new SecretBox(keys as [Buffer, ...Buffer[]]);
  };
  const send = async (subject: string) => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to: ['someone@elsewhere.example'], subject, text: `Hello ${subject}` },
      headers: key(tenant),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.messages[0].id as string;
  };
  const received = async (subject: string) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const mail = sink.received.find((m) => m.raw.toString().includes(`Subject: ${subject}\r\n`));
      if (mail) return mail;
      if (Date.now() > deadline) throw new Error(`no mail "${subject}" arrived`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const dkimPasses = async (raw: Buffer) => {
    const verdict = await dkimVerify(raw, {
      resolver: async (name: string, rr: string) =>
        rr === 'TXT' && name === dkimTxt.name
          ? [[dkimTxt.value]]
          : Promise.reject(Object.assign(new Error('no'), { code: 'ENOTFOUND' })),
    } as never);
    const results = (verdict as { results: { status: { result: string } }[] }).results;
    return results.length === 1 && results[0]!.status.result === 'pass';
  };
  const login = (totpCode?: string) =>
    http(t.url, 'POST', '/v2/session', {
      body: { email: 'second-factor@example.com', password: PASSWORD, ...(totpCode ? { totpCode } : {}) },
    });
  /** Every row of every table of the schema, as text: what a dump of the database shows. */
  const dumpText = async () => {
    const { rows: tables } = await t.db.pool.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
    );
    assert.ok(tables.length > 20, 'every table is read');
    const parts: string[] = [];
    for (const { name } of tables) {
      const { rows } = await t.db.pool.query<{ dump: string | null }>(
        `SELECT string_agg(row_to_json(x)::text, E'\\n') AS dump FROM "${name}" x`,
      );
      parts.push(rows[0]?.dump ?? '');
    }
    return parts.join('\n');
  };

  before(async () => {
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.26', sinkPort, { tls: false });
    receiver = await startWebhookReceiver();
    dataDir = tempDataDir('postlog-secrets-');
    t = await startTestApp(
      {
        POSTLOG_ROLES: 'api,mta,projector,tracking',
        POSTLOG_DATA_DIR: dataDir,
        POSTLOG_SMART_HOST: `127.0.0.26:${sinkPort}`,
        POSTLOG_SMART_HOST_TLS: 'none',
        POSTLOG_MTA_POLL_MS: '50',
        // a message deferred for a reason of the MTA's own (a connection that ended with work left) comes again soon
        POSTLOG_RETRY_DELAYS: '1',
        POSTLOG_DNS_SERVERS: '127.0.0.1:9',
        POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
        POSTLOG_WEBHOOK_POLL_MS: '50',
      },
      '',
      appLogs.logger,
    );
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    const domains = (await t.app.tenancy.listDomains(systemActor('test'), tenant.server.id)) as {
      ok: true;
      value: { dnsRecords: { purpose: string; name: string; value: string }[] }[];
    };
    dkimTxt = domains.value[0]!.dnsRecords.find((r) => r.purpose === 'dkim')!;
    const hook = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/webhooks`, {
      body: { url: receiver.url, events: ['MessageSent'] },
      headers: key(tenant),
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    webhookSecret = hook.body.secret;
    const user = await http(t.url, 'POST', '/v2/users', {
      body: {
        email: 'second-factor@example.com',
        password: PASSWORD,
        organizationId: tenant.organizationId,
        role: 'viewer',
      },
      headers: { authorization: `Bearer ${tenant.adminToken}` },
    });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const session = await login();
    const headers = {
      cookie: (session.headers.get('set-cookie') ?? '').split(';')[0]!,
      'x-csrf-token': session.body.csrfToken,
    };
    const setup = await http(t.url, 'POST', '/v2/session/totp/setup', { headers });
    totpSecret = setup.body.secret;
    const enable = await http(t.url, 'POST', '/v2/session/totp/enable', {
      body: { code: await generate({ secret: totpSecret }) },
      headers,
    });
    assert.equal(enable.status, 204);
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
    await receiver?.close();
  });

  it('works through the real entry points: DKIM verifies, the webhook signature verifies, TOTP login', async () => {
    const id = await send('Sealed DKIM');
    assert.ok(await dkimPasses((await received('Sealed DKIM')).raw), 'the DKIM signature verifies');
    const deadline = Date.now() + 15_000;
    while (!receiver.received.some((h) => String(h.json.payload.message?.id) === id) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const hook = receiver.received.find((h) => String(h.json.payload.message?.id) === id);
    assert.ok(hook, 'the webhook arrived');
    assert.ok(verifyPostlogSignature(String(hook.headers['x-postlog-signature']), hook.body, webhookSecret));
    assert.equal((await login()).body.code, 'TOTP_REQUIRED');
    assert.equal((await login(await generate({ secret: totpSecret }))).status, 200);
  });

  it('leaves no secret readable in the tables: every column of every row, read directly', async () => {
    const box = fileBox();
    const { rows: dkim } = await t.db.pool.query('SELECT id, private_key_pem, private_key_sealed FROM dkim_keys');
    const { rows: servers } = await t.db.pool.query(
      'SELECT id, tracking_secret, tracking_secret_sealed FROM servers WHERE id = $1',
      [tenant.server.id],
    );
    const { rows: signing } = await t.db.pool.query('SELECT private_key_pem, private_key_sealed FROM signing_keys');
    assert.ok(dkim.length > 0 && servers.length === 1 && signing.length === 1);
    for (const r of [...dkim, ...signing]) {
      assert.equal(r.private_key_pem, null);
      assert.match(r.private_key_sealed, /^psb1\.[0-9a-f]{12}\./);
    }
    // the sealed values are the real ones: opened with the key file, and then looked for in the dump
    const dkimPem = box.open(dkim[0].private_key_sealed, `dkim:${dkim[0].id}`);
    const trackingKey = box.open(servers[0].tracking_secret_sealed, `tracking:${tenant.server.id}`);
    assert.ok(dkimPem.ok && trackingKey.ok);
    assert.equal(servers[0].tracking_secret, null);
    const dump = await dumpText();
    const secrets = {
      'a PEM private key': 'PRIVATE KEY',
      'the DKIM key body': dkimPem.value.split('\n')[1]!,
      'the tracking key': trackingKey.value,
      'the webhook secret': webhookSecret,
      'the TOTP secret': totpSecret,
      'the SMTP password': tenant.smtp.password,
    };
    for (const [what, value] of Object.entries(secrets)) {
      assert.ok(value.length >= 11, `${what} is something to look for`);
      assert.equal(dump.includes(value), false, `${what} is in the tables`);
    }
    assert.ok(dump.includes(tenant.smtp.username), 'the dump does show what is not secret');
  });

  it('seals what an earlier version left in plaintext once, on start-up, and it still signs', async () => {
    const box = fileBox();
    const { rows } = await t.db.pool.query('SELECT id, private_key_sealed FROM dkim_keys WHERE active');
    for (const r of rows) {
      const pem = box.open(r.private_key_sealed, `dkim:${r.id}`);
      assert.ok(pem.ok);
      await t.db.pool.query('UPDATE dkim_keys SET private_key_pem = $2, private_key_sealed = NULL WHERE id = $1', [
        r.id,
        pem.value,
      ]);
    }
    assert.equal(await sealPlaintextSecrets(t.db.pool, box, sealedColumns), rows.length);
    assert.equal(await sealPlaintextSecrets(t.db.pool, box, sealedColumns), 0, 'idempotent');
    const left = await t.db.pool.query('SELECT 1 FROM dkim_keys WHERE private_key_pem IS NOT NULL');
    assert.equal(left.rowCount, 0);
    t.app.tenancy.forgetCaches();
    await send('Sealed again');
    assert.ok(await dkimPasses((await received('Sealed again')).raw));
  });

  it('rotates the key while Postlog runs and sends: every value re-sealed, nothing lost, all still verifies', async () => {
    const before = fileBox().keyId;
    let sending = true;
    const subjects: string[] = [];
    const ids: string[] = [];
    const sender = (async () => {
      for (let i = 0; sending; i++) {
        subjects.push(`During rotation ${i}`);
        ids.push(await send(`During rotation ${i}`));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const rotated = await runCli(['secrets', 'rotate', '--batch', '2', '--json'], cliEnv());
    sending = false;
    await sender;
    assert.equal(rotated.code, 0, rotated.stderr);
    const report = JSON.parse(rotated.stdout.trim().split('\n').at(-1)!);
    const after = fileBox();
    assert.notEqual(after.keyId, before);
    assert.equal(report.keyId, after.keyId);
    assert.deepEqual(after.keyIds, [after.keyId, before], 'the old key stays in the file');
    // DKIM keys, tracking keys, the webhook secret and signing key, the TOTP secret, the SMTP password
    assert.ok(report.resealed >= 6, JSON.stringify(report));
    assert.equal(report.unreadable, 0);
    assert.ok(subjects.length >= 10, 'messages were sent all through the rotation');
    for (const subject of subjects) {
      const mail = await received(subject).catch(async (e) => {
        const i = subjects.indexOf(subject);
        const v = await http(t.url, 'GET', `/v2/messages/${ids[i]}`, { headers: key(tenant) });
        throw new Error(`${(e as Error).message}; ${JSON.stringify(v.body.status)} ${JSON.stringify(appLogs.lines)}`);
      });
      assert.ok(await dkimPasses(mail.raw), subject);
    }

    const status = await runCli(['secrets', 'status', '--json'], cliEnv());
    assert.equal(status.code, 0, status.stderr);
    const counts = JSON.parse(status.stdout).counts as { what: string; keyId: string; state: string }[];
    assert.ok(counts.length >= 6, status.stdout);
    for (const c of counts) assert.equal(c.keyId, after.keyId, `${c.what} under the new key`);

    // the running process opens what the rotation re-sealed: signatures, webhooks and logins go on
    const id = await send('After rotation');
    assert.ok(await dkimPasses((await received('After rotation')).raw));
    const deadline = Date.now() + 15_000;
    while (!receiver.received.some((h) => String(h.json.payload.message?.id) === id) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const hook = receiver.received.find((h) => String(h.json.payload.message?.id) === id);
    assert.ok(hook && verifyPostlogSignature(String(hook.headers['x-postlog-signature']), hook.body, webhookSecret));
    assert.equal((await login(await generate({ secret: totpSecret }))).status, 200);
  });

  it('a wrong key is a clear error, in the log and from the CLI, and nothing is changed', async () => {
    const wrong = randomBytes(32);
    const logs = captureLogs('info');
    await prepareSealedSecrets(t.db.pool, new SecretBox([wrong]), sealedColumns, logs.logger);
    const lines = logs.lines.filter((l) => l.code === 'SECRETS_KEY_MISSING');
    assert.ok(lines.length >= 6, JSON.stringify(logs.lines));
    assert.match(String(lines[0]!.msg), /sealed with key [0-9a-f]{12}, which is not configured/);

    const env = { ...cliEnv(), POSTLOG_SECRETS_KEY: wrong.toString('base64') };
    const status = await runCli(['secrets', 'status', '--json'], env);
    const states = (JSON.parse(status.stdout).counts as { state: string }[]).map((c) => c.state);
    assert.ok(states.length > 0 && states.every((s) => s === 'KEY MISSING'), status.stdout);
    const rotate = await runCli(['secrets', 'rotate'], env);
    assert.equal(rotate.code, 1);
    assert.match(rotate.stderr, /SECRETS_UNREADABLE/);
    const { rows } = await t.db.pool.query(
      `SELECT count(*)::int AS n FROM dkim_keys WHERE split_part(private_key_sealed, '.', 2) = $1`,
      [secretKeyId(wrong)],
    );
    assert.equal(rows[0].n, 0, 'nothing was sealed with the wrong key');
    // and the running Postlog (with the right key) still signs
    await send('After a wrong key');
    assert.ok(await dkimPasses((await received('After a wrong key')).raw));
  });
});
