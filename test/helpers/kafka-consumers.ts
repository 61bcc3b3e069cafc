/**
 * Two independent ways to read back what Postlog published: a kafkajs consumer group (what a
 * Node consumer would write) and kcat, a C client on librdkafka that shares no code with kafkajs.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { eventually } from './eventually.js';
import { createKafkaClient } from '../../infra/kafka/index.js';
import { testLogger } from './database.js';

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  headers: Record<string, string>;
  value: string;
}

/**
 * Reads `topics` from the beginning with a fresh consumer group until `done(records)` says so,
 * or throws after `timeoutMs` with how many records came.
 */
export async function consumeWithGroup(
  bootstrap: string,
  topics: string[],
  done: (records: ConsumedRecord[]) => boolean,
  { timeoutMs = 60_000 } = {},
): Promise<ConsumedRecord[]> {
  const kafka = createKafkaClient({ brokers: [bootstrap], clientId: 'postlog-test-consumer', logger: testLogger });
  const consumer = kafka.consumer({ groupId: `postlog-test-${randomUUID()}` });
  const records: ConsumedRecord[] = [];
  // Postlog creates its topics when it first publishes: wait for them rather than fail to subscribe
  const admin = kafka.admin();
  await admin.connect();
  try {
    await eventually(
      async () => {
        const existing = new Set(await admin.listTopics());
        return topics.every((t) => existing.has(t)) ? true : undefined;
      },
      () => `the topics ${topics.join(', ')} were not created`,
      { timeoutMs },
    );
  } finally {
    await admin.disconnect();
  }
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(m.headers ?? {}))
            headers[name] = Array.isArray(value) ? String(value[0]) : String(value);
          records.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key?.toString('utf8') ?? null,
            headers,
            value: m.value?.toString('utf8') ?? '',
          });
        }
        if (done(records)) finish();
      },
    });
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([finished, timer])) === 'timeout')
      throw new Error(
        `the consumer group got ${records.length} records from ${topics.join(', ')} in ${timeoutMs} ms, not all it waited for`,
      );
    return records;
  } finally {
    await consumer.disconnect();
  }
}

/** Everything in `topic` right now, read by kcat (-e: exit at the end of every partition). */
export function consumeWithKcat(kcat: string, bootstrap: string, topic: string): Promise<ConsumedRecord[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(kcat, ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-J'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`kcat exited ${code}: ${err}`));
      const records = out
        .split('\n')
        .filter((line) => line.trim().length > 0)
        .map((line) => {
          // -J: {"topic":…,"partition":…,"offset":…,"headers":["name","value",…],"key":…,"payload":…}
          const r = JSON.parse(line) as {
            topic: string;
            partition: number;
            offset: number;
            headers?: string[] | null;
            key: string | null;
            payload: string | null;
          };
          const headers: Record<string, string> = {};
          for (let i = 0; i + 1 < (r.headers?.length ?? 0); i += 2) headers[r.headers![i]!] = r.headers![i + 1]!;
          return {
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            key: r.key,
            headers,
            value: r.payload ?? '',
          };
        });
      resolve(records);
    });
  });
}
