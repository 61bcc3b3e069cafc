/**
 * The Kafka event stream against a real Apache Kafka broker (KRaft, started by the test): messages
 * sent through the real send API reach the topic with the right key, headers and value; a kafkajs
 * consumer group and kcat read them back; a broker restart in the middle of a stream loses nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { messageEventCodec } from '../../domain/index.js';
import { START, type RecordedEvent } from '../../infra/event-store/index.js';
import { createKafkaClient } from '../../infra/kafka/index.js';
import { KafkaEventValue, kafkaHeaders, kafkaKeyOf } from '../../projections/kafka/event-message.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { kcatPath, startKafkaBroker, type KafkaBroker } from '../helpers/kafka.js';
import { consumeWithGroup, consumeWithKcat, type ConsumedRecord } from '../helpers/kafka-consumers.js';
import { runCli, startPostlogProcess, stopLeftoverPostlogProcesses } from '../helpers/postlog-process.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/ports.js';

const schemasDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../schemas/events');
// ajv-formats is CommonJS: its default export is the function under NodeNext
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** The committed JSON Schemas (schemas/events), as a consumer in another language would use them. */
function schemaValidators() {
  const ajv = addFormats(new Ajv2020({ strict: true, allErrors: true }));
  const index = JSON.parse(readFileSync(join(schemasDir, 'index.json'), 'utf8')) as {
    envelope: string;
    types: Record<string, { file: string }>;
  };
  const load = (file: string) => ajv.compile(JSON.parse(readFileSync(join(schemasDir, file), 'utf8')));
  const envelope = load(index.envelope);
  const byType = new Map(Object.entries(index.types).map(([type, t]) => [type, load(t.file)]));
  return (value: unknown, type: string) => {
    const validate = byType.get(type) ?? envelope;
    assert.ok(validate(value), `${type} record matches its JSON Schema: ${ajv.errorsText(validate.errors)}`);
  };
}

/** Reads the whole log. */
async function logEvents(t: TestApp): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  let from = START;
  for (;;) {
    const page = await t.app.eventStore.readAll(from, 5000);
    if (page.events.length === 0) return all;
    all.push(...page.events);
    from = page.checkpoint;
  }
}

const sendAs = async (t: TestApp, tenant: Tenant, to: string[]) => {
  const res = await http(t.url, 'POST', '/v2/messages', {
    headers: { 'x-server-api-key': tenant.apiKey },
    body: { from: 'app@sender.test', to, subject: 'Kafka', text: 'hello', tag: 'stream', metadata: { order: '7' } },
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return (res.body.messages as { id: string }[]).map((m) => m.id);
};

/** Waits until the publisher's checkpoint reached the end of the log. */
async function waitPublished(t: TestApp, broker: KafkaBroker, timeoutMs = 30_000) {
  let seen: { position: string | null; last_error: string | null } | undefined;
  let end = 0;
  await eventually(
    async () => {
      seen = (
        await t.db.pool.query("SELECT position, last_error FROM projection_checkpoints WHERE name = 'kafka-publisher'")
      ).rows[0];
      end = Number(
        (await t.db.pool.query<{ p: string | null }>('SELECT max(position) AS p FROM events')).rows[0]?.p ?? 0,
      );
      return end > 0 && Number(seen?.position ?? 0) >= end ? true : undefined;
    },
    () =>
      `kafka-publisher at ${seen?.position} of ${end}, last error: ${seen?.last_error}\nbroker log:\n${broker.logTail(15)}`,
    { timeoutMs },
  );
}

/** Every event of the log is in `records`; returns the first record of each event id. */
function assertAllPublished(events: RecordedEvent[], records: ConsumedRecord[]) {
  const byId = new Map<string, ConsumedRecord>();
  for (const r of records)
    if (!byId.has(r.headers[kafkaHeaders.eventId]!)) byId.set(r.headers[kafkaHeaders.eventId]!, r);
  const missing = events.filter((e) => !byId.has(e.eventId));
  assert.equal(
    missing.length,
    0,
    `${missing.length} of ${events.length} events never reached Kafka, e.g. ${JSON.stringify(missing.slice(0, 3).map((e) => [e.position, e.type]))}`,
  );
  return byId;
}

// one broker for the file: it takes seconds to start
let broker: KafkaBroker;
const saslUser = { username: 'postlog', password: `pw-${randomBytes(6).toString('hex')}` };
before(async () => {
  // a plaintext listener, and one that needs TLS and SASL as managed clusters do
  broker = await startKafkaBroker({ secure: { tls: true, sasl: saslUser } });
});
after(async () => {
  await broker?.destroy();
});

describe('Kafka event stream: the kafka-publisher projection against a real broker', () => {
  let t: TestApp;
  let tenant: Tenant;
  const topic = `postlog.events.test-${randomBytes(4).toString('hex')}`;

  before(async () => {
    t = await startTestApp({
      POSTLOG_ROLES: 'api,projector',
      POSTLOG_KAFKA_BROKERS: broker.bootstrap,
      POSTLOG_KAFKA_TOPIC: topic,
      POSTLOG_KAFKA_PARTITIONS: '3',
      // small batches: the restart test has many of them in flight
      POSTLOG_KAFKA_BATCH_SIZE: '50',
    });
    tenant = await createTenant(t.app);
  });
  after(async () => {
    await t?.stop();
  });

  const send = (to: string[]) => sendAs(t, tenant, to);

  const checkpoint = async () => {
    const { rows } = await t.db.pool.query<{ position: string | null; last_error: string | null }>(
      "SELECT position, last_error FROM projection_checkpoints WHERE name = 'kafka-publisher'",
    );
    return { position: Number(rows[0]?.position ?? 0), lastError: rows[0]?.last_error ?? null };
  };
  const head = async () =>
    Number((await t.db.pool.query<{ p: string | null }>('SELECT max(position) AS p FROM events')).rows[0]?.p ?? 0);

  /** Per key: after dropping duplicates, the stream's revisions 0, 1, 2, … in partition order, all of them. */
  function assertOrderPerKey(events: RecordedEvent[], records: ConsumedRecord[]) {
    const expected = new Map<string, number>();
    for (const e of events) expected.set(kafkaKeyOf(e.streamId), (expected.get(kafkaKeyOf(e.streamId)) ?? 0) + 1);
    const byKey = new Map<string, ConsumedRecord[]>();
    for (const r of records) {
      let list = byKey.get(r.key!);
      if (!list) byKey.set(r.key!, (list = []));
      list.push(r);
    }
    for (const [key, count] of expected) {
      const list = byKey.get(key) ?? [];
      assert.equal(new Set(list.map((r) => r.partition)).size, 1, `all records of key ${key} on one partition`);
      list.sort((a, b) => a.offset - b.offset);
      const seen = new Set<string>();
      const revisions: number[] = [];
      for (const r of list) {
        const value = KafkaEventValue.parse(JSON.parse(r.value));
        if (seen.has(value.eventId)) continue;
        seen.add(value.eventId);
        revisions.push(value.revision);
      }
      assert.deepEqual(
        revisions,
        Array.from({ length: count }, (_, i) => i),
        `key ${key}: revisions in order without gaps`,
      );
    }
  }

  it('publishes every event of the log: key = message id, ids in headers, the JSON envelope as value (kafkajs consumer group)', async () => {
    const ids = [...(await send(['a@example.com', 'b@example.com'])), ...(await send(['c@example.org']))];
    // more event types than Accepted/Queued: an operator holds, releases and cancels one
    for (const action of ['hold', 'release', 'cancel']) {
      const res = await http(t.url, 'POST', `/v2/messages/${ids[0]}/${action}`, {
        headers: { 'x-server-api-key': tenant.apiKey },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    await waitPublished(t, broker);
    const events = await logEvents(t);
    assert.ok(events.length >= 9, `the log holds the messages' events (${events.length})`);
    assert.ok(
      ['MessageHeld', 'MessageReleased', 'MessageCancelled'].every((type) => events.some((e) => e.type === type)),
    );
    const wanted = new Set(events.map((e) => e.eventId));
    const records = await consumeWithGroup(
      broker.bootstrap,
      [topic],
      (rs) => rs.filter((r) => wanted.has(r.headers[kafkaHeaders.eventId]!)).length >= wanted.size,
    );
    const byId = assertAllPublished(events, records);
    const validate = schemaValidators();
    for (const e of events) {
      const r = byId.get(e.eventId)!;
      assert.equal(r.topic, topic);
      assert.equal(r.key, kafkaKeyOf(e.streamId));
      if (e.streamId.startsWith('message-'))
        assert.ok(ids.includes(r.key!), `key ${r.key} is the id the send API answered`);
      assert.deepEqual(r.headers, {
        [kafkaHeaders.eventId]: e.eventId,
        [kafkaHeaders.type]: e.type,
        [kafkaHeaders.schemaVersion]: String(e.schemaVersion),
      });
      const json: unknown = JSON.parse(r.value);
      validate(json, e.type);
      const value = KafkaEventValue.parse(json);
      assert.deepEqual(value, {
        eventId: e.eventId,
        type: e.type,
        streamId: e.streamId,
        revision: e.revision,
        position: e.position,
        recordedAt: e.recordedAt.toISOString(),
        schemaVersion: e.schemaVersion,
        data: e.data,
        metadata: e.metadata,
      });
    }
    const accepted = KafkaEventValue.parse(
      JSON.parse(byId.get(events.find((e) => e.type === 'MessageAccepted')!.eventId)!.value),
    );
    assert.equal((accepted.data as { to: string }).to.includes('@'), true);
    assert.deepEqual((accepted.data as { metadata: unknown }).metadata, { order: '7' });
    assertOrderPerKey(events, records);

    // Postlog created the topic (the broker does not auto-create) with the configured partitions
    const admin = createKafkaClient({
      brokers: [broker.bootstrap],
      clientId: 'postlog-test-admin',
      logger: testLogger,
    }).admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      assert.equal(meta.topics[0]?.partitions.length, 3);
    } finally {
      await admin.disconnect();
    }
    // the published count is a metric
    const metrics = await t.app.metrics.registry.getSingleMetricAsString('postlog_kafka_published_events_total');
    assert.match(
      metrics,
      new RegExp(`postlog_kafka_published_events_total\\{topic="${topic.replace(/\./g, '\\.')}"\\} (\\d+)`),
    );
    const publishedCount = Number(/\} (\d+)/.exec(metrics)![1]);
    assert.ok(publishedCount >= events.length, `${publishedCount} published ≥ ${events.length} events`);
  });

  it('postlog projections status lists the kafka-publisher when Kafka is configured', async () => {
    await waitPublished(t, broker);
    const env = {
      ...(process.env as Record<string, string>),
      POSTLOG_DATABASE_URL: t.db.url,
      POSTLOG_LOG_LEVEL: 'warn',
    };
    const withKafka = await runCli(['projections', 'status', '--json'], {
      ...env,
      POSTLOG_KAFKA_BROKERS: broker.bootstrap,
    });
    assert.equal(withKafka.code, 0, withKafka.stderr);
    const row = (
      JSON.parse(withKafka.stdout) as { name: string; position: number; lagEvents: number; lastError: string | null }[]
    ).find((r) => r.name === 'kafka-publisher');
    assert.ok(row, withKafka.stdout);
    assert.equal(row.position, await head());
    assert.equal(row.lagEvents, 0);
    assert.equal(row.lastError, null);
    const text = await runCli(['projections', 'status'], { ...env, POSTLOG_KAFKA_BROKERS: broker.bootstrap });
    assert.match(text.stdout, /^kafka-publisher\s+v1\s+position \d+ of \d+\s+lag 0 events$/m);
    const without = await runCli(['projections', 'status', '--json'], env);
    assert.ok(!without.stdout.includes('kafka-publisher'), 'not listed when Kafka is not configured');
  });

  it('is readable by an independent client: kcat sees the same keys, headers and values', async (ctx) => {
    const kcat = kcatPath();
    if (!kcat) return ctx.skip('kcat is not installed (Debian package kafkacat; .ci/run installs it)');
    await send(['kcat@example.net']);
    await waitPublished(t, broker);
    const events = await logEvents(t);
    const records = await consumeWithKcat(kcat, broker.bootstrap, topic);
    const byId = assertAllPublished(events, records);
    for (const e of events) {
      const r = byId.get(e.eventId)!;
      assert.equal(r.key, kafkaKeyOf(e.streamId));
      assert.equal(r.headers[kafkaHeaders.type], e.type);
      assert.equal(r.headers[kafkaHeaders.schemaVersion], String(e.schemaVersion));
      const value = KafkaEventValue.parse(JSON.parse(r.value));
      assert.equal(value.eventId, e.eventId);
      assert.deepEqual(value.data, e.data);
    }
    assertOrderPerKey(events, records);
  });

  it('waits for a broker that stops answering (back-pressure): the checkpoint holds, nothing fails, then everything arrives', async () => {
    await waitPublished(t, broker);
    const before = await checkpoint();
    broker.pause();
    let sent: string[] = [];
    try {
      for (let i = 0; i < 5; i++) sent = sent.concat(await send([`slow${i}@example.com`]));
      await new Promise((r) => setTimeout(r, 3000));
      const during = await checkpoint();
      assert.equal(
        during.position,
        before.position,
        'nothing counts as published while the broker does not acknowledge',
      );
      assert.equal(during.lastError, null, 'a slow broker is waited for, not treated as a failure');
      assert.ok((await head()) > before.position);
    } finally {
      broker.resume();
    }
    await waitPublished(t, broker);
    assert.equal((await checkpoint()).lastError, null);
    const events = await logEvents(t);
    const wanted = new Set(events.map((e) => e.eventId));
    const records = await consumeWithGroup(
      broker.bootstrap,
      [topic],
      (rs) => new Set(rs.map((r) => r.headers[kafkaHeaders.eventId])).size >= wanted.size,
    );
    assertAllPublished(events, records);
    assertOrderPerKey(events, records);
    assert.ok(sent.every((id) => records.some((r) => r.key === id)));
  });

  it('survives a broker restart in the middle of a stream: the checkpoint waits, then every event arrives in order per key', async () => {
    let writing = true;
    let sent = 0;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        sent += (await send([`r${i}a@example.com`, `r${i}b@example.com`, `r${i}c@example.org`])).length;
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    try {
      const before = (await checkpoint()).position;
      await eventually(
        async () => ((await checkpoint()).position > before ? true : undefined),
        () => 'the publisher moves while the broker is up',
      );

      await broker.stop();
      // a batch the broker acknowledged just before it went away may still commit: then nothing moves
      await new Promise((r) => setTimeout(r, 500));
      const down = await checkpoint();
      const failed = await eventually(
        async () => {
          const c = await checkpoint();
          return c.lastError ? c : undefined;
        },
        () => 'the failed batch is recorded in projection_checkpoints.last_error',
        { timeoutMs: 30_000 },
      );
      assert.match(failed.lastError!, /Kafka did not acknowledge/);
      assert.equal(failed.position, down.position, 'the checkpoint does not move while the broker is down');
      assert.ok((await head()) > down.position, 'events keep coming into the log meanwhile');

      await broker.start();
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      writing = false;
      await writer;
    }
    assert.ok(sent > 30, `messages sent during the test (${sent})`);
    await waitPublished(t, broker, 90_000);
    assert.equal((await checkpoint()).lastError, null, 'the error is cleared once batches go through again');

    const events = await logEvents(t);
    const wanted = new Set(events.map((e) => e.eventId));
    const records = await consumeWithGroup(
      broker.bootstrap,
      [topic],
      (rs) => new Set(rs.map((r) => r.headers[kafkaHeaders.eventId])).size >= wanted.size,
      { timeoutMs: 90_000 },
    );
    assertAllPublished(events, records);
    assertOrderPerKey(events, records);
  });
});

describe('Kafka event stream with a topic per event type (POSTLOG_KAFKA_TOPIC_PER_TYPE)', () => {
  let t: TestApp;
  const prefix = `postlog.pertype-${randomBytes(4).toString('hex')}`;

  before(async () => {
    t = await startTestApp({
      POSTLOG_ROLES: 'api,projector',
      POSTLOG_KAFKA_BROKERS: broker.bootstrap,
      POSTLOG_KAFKA_TOPIC: prefix,
      POSTLOG_KAFKA_TOPIC_PER_TYPE: 'true',
    });
  });
  after(async () => t?.stop());

  it("sends each event to <topic>.<EventType>, and creates every type's topic up front", async () => {
    const tenant = await createTenant(t.app);
    const [id] = await sendAs(t, tenant, ['x@example.com', 'y@example.com']);
    assert.equal(
      (await http(t.url, 'POST', `/v2/messages/${id}/cancel`, { headers: { 'x-server-api-key': tenant.apiKey } }))
        .status,
      200,
    );
    await waitPublished(t, broker);
    const events = await logEvents(t);
    const types = [...new Set(events.map((e) => e.type))];
    assert.deepEqual(types.sort(), ['MessageAccepted', 'MessageCancelled', 'MessageQueued']);
    const records = await consumeWithGroup(
      broker.bootstrap,
      types.map((type) => `${prefix}.${type}`),
      (rs) => rs.length >= events.length,
    );
    const byId = assertAllPublished(events, records);
    for (const e of events) assert.equal(byId.get(e.eventId)!.topic, `${prefix}.${e.type}`);

    const admin = createKafkaClient({
      brokers: [broker.bootstrap],
      clientId: 'postlog-test-admin',
      logger: testLogger,
    }).admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      for (const type of messageEventCodec.types)
        assert.ok(topics.includes(`${prefix}.${type}`), `${prefix}.${type} exists`);
      assert.ok(!topics.includes(prefix), 'nothing goes to the one topic');
    } finally {
      await admin.disconnect();
    }
  });
});

describe('postlog start with POSTLOG_KAFKA_BROKERS (a real process)', () => {
  let db: TestDatabase;
  after(async () => {
    await stopLeftoverPostlogProcesses();
    await db?.drop();
  });

  it('publishes what its API accepts, reports it in /metrics, and logs (kafkajs too) as JSON lines only', async () => {
    db = await createTestDatabase();
    const topic = `postlog.process-${randomBytes(4).toString('hex')}`;
    const env = {
      ...(process.env as Record<string, string>),
      POSTLOG_DATABASE_URL: db.url,
      POSTLOG_HTTP_PORT: String(await freePort()),
      POSTLOG_ROLES: 'api,projector',
      POSTLOG_LOG_LEVEL: 'info',
      POSTLOG_LOG_FORMAT: 'json',
      POSTLOG_KAFKA_BROKERS: broker.bootstrap,
      POSTLOG_KAFKA_TOPIC: topic,
    };
    const proc = await startPostlogProcess(env);
    const init = JSON.parse((await runCli(['init', '--json'], env)).stdout) as { serverId: string; apiKey: string };
    assert.equal(
      (await runCli(['domain', 'add', 'sender.test', '--server', init.serverId, '--verified', '--json'], env)).code,
      0,
    );
    const res = await http(proc.url, 'POST', '/v2/messages', {
      headers: { 'x-server-api-key': init.apiKey },
      body: { from: 'app@sender.test', to: ['p@example.com', 'q@example.com'], subject: 's', text: 'x' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const ids = (res.body.messages as { id: string }[]).map((m) => m.id);
    const records = await consumeWithGroup(
      broker.bootstrap,
      [topic],
      (rs) => rs.filter((r) => r.headers[kafkaHeaders.type] === 'MessageQueued').length >= 2,
    );
    assert.deepEqual([...new Set(records.map((r) => r.key))].sort(), [...ids].sort());
    assert.deepEqual(
      records.filter((r) => r.key === ids[0]).map((r) => r.headers[kafkaHeaders.type]),
      ['MessageAccepted', 'MessageQueued'],
    );

    const metrics = await eventually(
      async () => {
        const text = await (await fetch(`${proc.url}/metrics`)).text();
        return /postlog_projection_lag_events\{projection="kafka-publisher"\} 0\b/.test(text) ? text : undefined;
      },
      () => 'the kafka-publisher lag reaches 0 in /metrics',
    );
    const published = Number(
      new RegExp(`postlog_kafka_published_events_total\\{topic="${topic.replace(/\./g, '\\.')}"\\} (\\d+)`).exec(
        metrics,
      )?.[1],
    );
    assert.ok(published >= 4, `published count in /metrics: ${published}`);

    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0);
    const lines = proc
      .output()
      .split('\n')
      .filter((l) => l.trim());
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `a JSON log line: ${line}`);
    const kafkaLines = lines
      .map((l) => JSON.parse(l) as { component?: string; msg: string })
      .filter((l) => l.component === 'kafka-publisher');
    assert.ok(
      kafkaLines.some((l) => l.msg === 'connected to Kafka'),
      'the publisher logs through pino',
    );
  });
});

describe('a Kafka cluster that needs TLS and SASL (POSTLOG_KAFKA_SSL_CA_FILE, POSTLOG_KAFKA_SASL_*)', () => {
  const apps: TestApp[] = [];
  const caDir = mkdtempSync(join(tmpdir(), 'postlog-kafka-ca-'));
  after(async () => {
    for (const a of apps) await a.stop();
    rmSync(caDir, { recursive: true, force: true });
  });
  const secureEnv = (topic: string, password: string) => {
    const caFile = join(caDir, 'ca.pem');
    writeFileSync(caFile, broker.caPem!);
    return {
      POSTLOG_ROLES: 'api,projector',
      POSTLOG_KAFKA_BROKERS: broker.secureBootstrap!,
      POSTLOG_KAFKA_TOPIC: topic,
      POSTLOG_KAFKA_SSL: 'true',
      POSTLOG_KAFKA_SSL_CA_FILE: caFile,
      POSTLOG_KAFKA_SASL_MECHANISM: 'plain',
      POSTLOG_KAFKA_SASL_USERNAME: saslUser.username,
      POSTLOG_KAFKA_SASL_PASSWORD: password,
    };
  };

  it('publishes over TLS with SASL PLAIN', async () => {
    const topic = `postlog.secure-${randomBytes(4).toString('hex')}`;
    const t = await startTestApp(secureEnv(topic, saslUser.password));
    apps.push(t);
    const tenant = await createTenant(t.app);
    const ids = await sendAs(t, tenant, ['s@example.com']);
    await waitPublished(t, broker);
    const records = await consumeWithGroup(broker.bootstrap, [topic], (rs) => rs.length >= 2);
    assert.deepEqual(
      records.map((r) => [r.key, r.headers[kafkaHeaders.type]]),
      [
        [ids[0], 'MessageAccepted'],
        [ids[0], 'MessageQueued'],
      ],
    );
  });

  it('with a wrong password publishes nothing, and says why in projection_checkpoints.last_error', async () => {
    const t = await startTestApp(secureEnv(`postlog.denied-${randomBytes(4).toString('hex')}`, 'not-the-password'));
    apps.push(t);
    await sendAs(t, await createTenant(t.app), ['d@example.com']);
    const row = await eventually(
      async () => {
        const r = (
          await t.db.pool.query<{ position: string | null; last_error: string | null }>(
            "SELECT position, last_error FROM projection_checkpoints WHERE name = 'kafka-publisher'",
          )
        ).rows[0];
        return r?.last_error ? r : undefined;
      },
      () => 'the authentication failure is recorded',
      { timeoutMs: 30_000 },
    );
    assert.match(row.last_error!, /Kafka did not acknowledge .*SASL PLAIN authentication failed/);
    assert.equal(row.position, null, 'nothing counted as published');
  });
});
