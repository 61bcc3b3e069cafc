/**
 * A real Apache Kafka broker for tests and benchmarks: one JVM in KRaft combined mode (broker and
 * controller, no ZooKeeper) on loopback ports, its data in a temp dir. The jars come from Maven
 * Central through Maven (test/kafka/pom.xml) into a cache dir that .ci/run fills ahead of time.
 * The broker can be stopped and started again on the same ports and data (broker-restart tests).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  closeSync,
} from 'node:fs';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import { freePort } from './ports.js';

/** The pom that names the broker's version; the compiled helper lives in dist/test/helpers. */
const pomPath = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/kafka/pom.xml');

export function kafkaVersion(): string {
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(pomPath, 'utf8'));
  if (!match) throw new Error(`no <kafka.version> in ${pomPath}`);
  return match[1]!;
}

/** Where the jars of this Kafka version are cached (POSTLOG_TEST_KAFKA_CACHE overrides the root). */
export function kafkaLibsDir(): string {
  const root = process.env.POSTLOG_TEST_KAFKA_CACHE ?? join(homedir(), '.cache', 'postlog-test', 'kafka');
  return join(root, kafkaVersion(), 'libs');
}

/**
 * The broker's jars, fetched with Maven when the cache does not hold them yet. Maven writes into a
 * fresh directory that is renamed into place at the end, so parallel test files never see half a
 * download.
 */
export function ensureKafkaJars(): string {
  const libs = kafkaLibsDir();
  if (existsSync(join(libs, `kafka_2.13-${kafkaVersion()}.jar`))) return libs;
  mkdirSync(dirname(libs), { recursive: true });
  const staging = mkdtempSync(join(dirname(libs), 'libs-download-'));
  const mvn = spawnSync(
    'mvn',
    ['-q', '-B', '-f', pomPath, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`],
    { encoding: 'utf8' },
  );
  if (mvn.error || mvn.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(
      `fetching the Kafka broker jars with Maven failed (is mvn installed? .ci/run installs it): ${mvn.error?.message ?? ''}${mvn.stdout}${mvn.stderr}`,
    );
  }
  try {
    renameSync(staging, libs);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another test file got there first
  }
  return libs;
}

export interface KafkaBroker {
  /** "127.0.0.1:<port>" for POSTLOG_KAFKA_BROKERS and clients (plaintext, no authentication). */
  bootstrap: string;
  port: number;
  /** With the `secure` option: the listener that needs TLS and/or SASL PLAIN. */
  secureBootstrap?: string;
  /** The CA certificate (PEM) that signed the secure listener's certificate, when it has TLS. */
  caPem?: string;
  running(): boolean;
  /** Stops the broker (SIGTERM: a controlled shutdown; `kill`: SIGKILL, a crash); the data stays. */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Starts it again on the same ports and data. */
  start(): Promise<void>;
  /** Freezes the broker process (SIGSTOP): connections stay open, nothing is answered — a very slow broker. */
  pause(): void;
  /** Lets a paused broker run on (SIGCONT). */
  resume(): void;
  /** The broker's own log (server.log), for failure messages. */
  logTail(lines?: number): string;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

const live = new Set<ChildProcess>();
// a test process that dies without its after() hooks must not leave JVMs behind
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function waitForPort(port: number, deadline: number, isAlive: () => boolean, describe: () => string): Promise<void> {
  return new Promise((resolveWait, reject) => {
    const attempt = () => {
      if (!isAlive()) return reject(new Error(`the Kafka broker exited during start-up:\n${describe()}`));
      if (Date.now() > deadline)
        return reject(new Error(`the Kafka broker did not listen on ${port} in time:\n${describe()}`));
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolveWait();
      });
      socket.on('error', () => {
        socket.destroy();
        setTimeout(attempt, 250);
      });
    };
    attempt();
  });
}

export interface KafkaBrokerOptions {
  heapMb?: number;
  startTimeoutMs?: number;
  /** A second client listener that needs TLS (a self-signed certificate for 127.0.0.1) and/or SASL PLAIN with this one user. */
  secure?: { tls?: boolean; sasl?: { username: string; password: string } };
}

/** Java properties values are one line: newlines as \n escapes. */
const oneLine = (pem: string) => pem.trim().replace(/\r?\n/g, '\\n');

/** The secure listener's settings (Kafka reads PEM certificates and keys inline since 2.7). */
async function secureListener(
  name: string,
  secure: NonNullable<KafkaBrokerOptions['secure']>,
): Promise<{ protocol: string; lines: string[]; caPem?: string }> {
  const lines: string[] = [];
  let caPem: string | undefined;
  if (secure.tls) {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 86_400_000),
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 7, ip: '127.0.0.1' },
            { type: 2, value: 'localhost' },
          ],
        },
      ],
    });
    const key = createPrivateKey(pems.private).export({ type: 'pkcs8', format: 'pem' }).toString();
    caPem = pems.cert;
    lines.push(
      `listener.name.${name}.ssl.keystore.type=PEM`,
      `listener.name.${name}.ssl.keystore.certificate.chain=${oneLine(pems.cert)}`,
      `listener.name.${name}.ssl.keystore.key=${oneLine(key)}`,
    );
  }
  if (secure.sasl) {
    const { username, password } = secure.sasl;
    lines.push(
      'sasl.enabled.mechanisms=PLAIN',
      `listener.name.${name}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${username}" password="${password}" user_${username}="${password}";`,
    );
  }
  const protocol = secure.tls ? (secure.sasl ? 'SASL_SSL' : 'SSL') : secure.sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
  return { protocol, lines, ...(caPem ? { caPem } : {}) };
}

/**
 * A KRaft cluster id: 16 random bytes in base64url, never starting with "-" (the tool would read
 * it as an option and fail: one id in 64 did, a broker start in a few CI runs). Kafka's own
 * Uuid.randomUuid() draws again for the same reason.
 */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Starts a single-node KRaft broker on free loopback ports; it is ready for clients when this resolves. */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const libs = ensureKafkaJars();
  const dir = mkdtempSync(join(tmpdir(), 'postlog-kafka-'));
  const port = await freePort();
  const controllerPort = await freePort();
  const securePort = options.secure ? await freePort() : undefined;
  const secure = options.secure ? await secureListener('secure', options.secure) : undefined;
  const listeners = [`PLAINTEXT://127.0.0.1:${port}`, ...(securePort ? [`SECURE://127.0.0.1:${securePort}`] : [])];
  const properties = join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=${listeners.join(',')},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=${listeners.join(',')}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${secure ? `,SECURE:${secure.protocol}` : ''}`,
      ...(secure?.lines ?? []),
      `log.dirs=${join(dir, 'data')}`,
      // Postlog creates its topics itself: a broker that invents them would hide a missing create
      'auto.create.topics.enable=false',
      'num.partitions=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'min.insync.replicas=1',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=2',
      'background.threads=2',
      'log.cleaner.enable=false',
      '',
    ].join('\n'),
  );
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  writeFileSync(
    join(dir, 'log4j.properties'),
    [
      'log4j.rootLogger=INFO, file',
      'log4j.appender.file=org.apache.log4j.FileAppender',
      `log4j.appender.file.File=${join(logDir, 'server.log')}`,
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
  const java = (extra: string[]) => [
    `-Xmx${options.heapMb ?? 512}m`,
    '-Xms128m',
    '-XX:+UseSerialGC', // two cores shared by everyone: no parallel GC threads
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
    `-Dkafka.logs.dir=${logDir}`,
    '-cp',
    join(libs, '*'),
    ...extra,
  ];
  // KRaft needs its storage formatted once with a cluster id (22 characters of URL-safe base64)
  const format = spawnSync('java', java(['kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', properties]), {
    encoding: 'utf8',
  });
  if (format.error || format.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `formatting the Kafka storage failed (is Java 17 installed?): ${format.error?.message ?? ''}${format.stdout}${format.stderr}`,
    );
  }

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const logTail = (lines = 40) => {
    const file = join(logDir, 'server.log');
    const out = existsSync(join(dir, 'stdout.log')) ? readFileSync(join(dir, 'stdout.log'), 'utf8') : '';
    const log = existsSync(file) ? readFileSync(file, 'utf8') : '';
    return [...out.split('\n'), ...log.split('\n')].slice(-lines).join('\n');
  };
  const start = async () => {
    if (child) return;
    const out = openSync(join(dir, 'stdout.log'), 'a');
    const c = spawn('java', java(['kafka.Kafka', properties]), { stdio: ['ignore', out, out] });
    closeSync(out);
    child = c;
    live.add(c);
    exited = new Promise((r) =>
      c.once('exit', () => {
        live.delete(c);
        if (child === c) child = undefined;
        r();
      }),
    );
    await waitForPort(port, Date.now() + (options.startTimeoutMs ?? 90_000), () => child === c, logTail);
  };
  const stop = async ({ kill = false } = {}) => {
    const c = child;
    if (!c) return;
    c.kill('SIGCONT'); // a paused JVM would not act on SIGTERM
    c.kill(kill ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    bootstrap: `127.0.0.1:${port}`,
    port,
    ...(securePort ? { secureBootstrap: `127.0.0.1:${securePort}` } : {}),
    ...(secure?.caPem ? { caPem: secure.caPem } : {}),
    running: () => child !== undefined,
    start,
    stop,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    logTail,
    async destroy() {
      await stop({ kill: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** kcat (Debian package kafkacat, which installs both names), or undefined when neither is installed. */
export function kcatPath(): string | undefined {
  for (const name of ['kcat', 'kafkacat']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return undefined;
}
