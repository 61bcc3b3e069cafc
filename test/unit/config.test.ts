import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, envNameOf, loadConfig, roleNames } from '../../infra/config/index.js';

/*
 * Every call passes `env` and `file` explicitly, so nothing depends on the machine's environment
 * or on a postlog.yaml in the working directory.
 */

const dir = mkdtempSync(join(tmpdir(), 'postlog-config-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function yamlFile(text: string): string {
  const path = join(dir, `postlog-${++fileCount}.yaml`);
  writeFileSync(path, text);
  return path;
}
const emptyFile = yamlFile('');

/** Calls fn, which must throw a ConfigError, and returns its problems. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'INVALID_CONFIG');
    for (const p of error.problems) assert.ok(error.message.includes(p), `message lacks "${p}"`);
    return error.problems;
  }
  assert.fail('expected loadConfig to throw a ConfigError');
}

/** Asserts exactly one problem starts with `name:` (e.g. "POSTLOG_HTTP_PORT:"). */
function assertNamed(problems: string[], name: string): void {
  const matching = problems.filter((p) => p.startsWith(`${name}: `));
  assert.equal(matching.length, 1, `expected one problem for ${name} in ${JSON.stringify(problems)}`);
}

describe('envNameOf', () => {
  it('turns camelCase keys into POSTLOG_SCREAMING_SNAKE_CASE', () => {
    assert.equal(envNameOf('dataDir'), 'POSTLOG_DATA_DIR');
    assert.equal(envNameOf('httpPort'), 'POSTLOG_HTTP_PORT');
    assert.equal(envNameOf('embeddedPgPort'), 'POSTLOG_EMBEDDED_PG_PORT');
    assert.equal(envNameOf('shutdownTimeoutMs'), 'POSTLOG_SHUTDOWN_TIMEOUT_MS');
  });
});

describe('loadConfig: defaults', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = loadConfig({ env: {}, file: emptyFile });
    assert.deepEqual(config, {
      dataDir: './data',
      embeddedPgPort: 54329,
      databasePoolSize: 20,
      httpHost: '127.0.0.1',
      httpPort: 5000,
      submissionPort: 2587,
      submissionTlsPort: 2465,
      smtpHost: '127.0.0.1',
      smtpAllowInsecureAuth: false,
      smtpMaxRecipients: 100,
      smtpMaxMessagesPerConnection: 1000,
      smtpAuthFailuresPerMinute: 10,
      secretsPreviousKeys: [],
      smtpProxyFrom: [],
      sessionIdleMinutes: 480,
      sessionMaxHours: 168,
      loginFailuresPerAccount: 5,
      loginFailuresPerAddress: 20,
      oidcName: 'single sign-on',
      oidcAllowHttp: false,
      accountLinkHours: 72,
      suppressionDays: 30,
      routeRetryDelays: [60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800],
      inboundPort: 2525,
      dnsServers: [],
      domainCheckMinutes: 60,
      mtaPort: 25,
      hostname: hostname(),
      routesAllowPrivateEndpoints: false,
      corsOrigins: [],
      addressLiterals: 'refuse',
      webhookRetryDelays: [60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800],
      webhookMaxAgeHours: 24,
      webhookCircuitBreakerFailures: 10,
      webhookCircuitBreakerCooldownSeconds: 300,
      webhookTimeoutSeconds: 30,
      webhookConcurrency: 100,
      webhookPollMs: 500,
      webhookLogDays: 14,
      webhooksAllowPrivateEndpoints: false,
      apiRateLimit: 1000,
      maxMessageBytes: 25 * 1024 * 1024,
      smartHostTls: 'starttls',
      mtaTls: 'opportunistic',
      mtaSts: true,
      dane: false,
      daneResolver: '127.0.0.1:53',
      tlsrptCheckSeconds: 900,
      processes: 'auto',
      mtaMaxInFlight: 500,
      mtaMessagesPerConnection: 100,
      mtaMaxConnectionsPerDestination: 20,
      mtaMessagesPerMinutePerDestination: 0,
      mtaLeaseSeconds: 600,
      mtaPollMs: 250,
      retryDelays: [60, 120, 300, 600, 1200, 2400, 3600, 7200, 14400],
      maxQueueHours: 72,
      destinations: {},
      ipPools: {},
      eventStore: 'postgres',
      kafkaBrokers: [],
      kafkaTopic: 'postlog.events',
      kafkaTopicPerType: false,
      kafkaClientId: 'postlog',
      kafkaPartitions: 6,
      kafkaCompression: 'none',
      kafkaBatchSize: 1000,
      kafkaSsl: false,
      clickhouseDatabase: 'postlog',
      clickhouseUser: 'default',
      clickhousePassword: '',
      spamdPort: 783,
      clamdPort: 3310,
      scanTimeoutSeconds: 10,
      scanMaxBytes: 25 * 1024 * 1024,
      scanFailure: 'accept',
      outboundVirusScan: true,
      spamThreshold: 5,
      spamFailThreshold: 20,
      reputationWindowHours: 24,
      reputationMinVolume: 1000,
      reputationComplaintWarnPercent: 0.1,
      reputationComplaintPausePercent: 0.3,
      reputationBounceWarnPercent: 2,
      reputationBouncePausePercent: 5,
      reputationCheckSeconds: 60,
      dmarcReportLocalPart: 'dmarc-reports',
      dnsblZones: [],
      dnsblDomainZones: [],
      dnsblCheckMinutes: 60,
      logLevel: 'info',
      environment: 'development',
      roles: [...roleNames],
      shutdownTimeoutMs: 10_000,
    });
  });

  it('runs every role by default', () => {
    const { roles } = loadConfig({ env: {}, file: emptyFile });
    assert.deepEqual(roles, ['api', 'smtp', 'inbound', 'mta', 'projector', 'tracking', 'graphql']);
  });

  it('ignores unrelated and empty environment variables', () => {
    const config = loadConfig({
      env: { HTTP_PORT: '1', POSTLOG_HTTP_PORT: '', POSTLOG_LOG_LEVEL: '' },
      file: emptyFile,
    });
    assert.equal(config.httpPort, 5000);
    assert.equal(config.logLevel, 'info');
  });
});

describe('loadConfig: environment variables', () => {
  it('override the defaults, with numbers coerced', () => {
    const config = loadConfig({
      env: {
        POSTLOG_HTTP_PORT: '8080',
        POSTLOG_MTA_PORT: '2526',
        POSTLOG_DATA_DIR: '/var/lib/postlog',
        POSTLOG_DATABASE_URL: 'postgres://u:p@db:5432/postlog',
        POSTLOG_LOG_LEVEL: 'debug',
        POSTLOG_LOG_FORMAT: 'json',
        POSTLOG_ENVIRONMENT: 'production',
        POSTLOG_HOSTNAME: 'mail.example.com',
        POSTLOG_SHUTDOWN_TIMEOUT_MS: '0',
      },
      file: emptyFile,
    });
    assert.equal(config.httpPort, 8080);
    assert.equal(config.mtaPort, 2526);
    assert.equal(config.dataDir, '/var/lib/postlog');
    assert.equal(config.databaseUrl, 'postgres://u:p@db:5432/postlog');
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.logFormat, 'json');
    assert.equal(config.environment, 'production');
    assert.equal(config.hostname, 'mail.example.com');
    assert.equal(config.shutdownTimeoutMs, 0);
    assert.equal(config.submissionPort, 2587, 'unset keys keep their defaults');
  });

  it('webhook settings: the retry schedule is a comma list of seconds; a bad one is named', () => {
    const config = loadConfig({
      env: {
        POSTLOG_WEBHOOK_RETRY_DELAYS: '0.5, 30,3600',
        POSTLOG_WEBHOOK_MAX_AGE_HOURS: '48',
        POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      },
      file: emptyFile,
    });
    assert.deepEqual(config.webhookRetryDelays, [0.5, 30, 3600]);
    assert.equal(config.webhookMaxAgeHours, 48);
    assert.equal(config.webhooksAllowPrivateEndpoints, true);
    assertNamed(
      problemsOf(() => loadConfig({ env: { POSTLOG_WEBHOOK_RETRY_DELAYS: '60,soon' }, file: emptyFile })),
      'POSTLOG_WEBHOOK_RETRY_DELAYS',
    );
    assertNamed(
      problemsOf(() => loadConfig({ env: { POSTLOG_WEBHOOK_CIRCUIT_BREAKER_FAILURES: '0' }, file: emptyFile })),
      'POSTLOG_WEBHOOK_CIRCUIT_BREAKER_FAILURES',
    );
  });

  it('POSTLOG_DNS_SERVERS is a comma list, trimmed, empty items dropped', () => {
    const config = loadConfig({ env: { POSTLOG_DNS_SERVERS: '1.1.1.1, 8.8.8.8:53,,[::1]:5353 ' }, file: emptyFile });
    assert.deepEqual(config.dnsServers, ['1.1.1.1', '8.8.8.8:53', '[::1]:5353']);
  });

  it('POSTLOG_DNS_TRACK_TARGET names the target of track domains’ CNAMEs (unset: track.<hostname>, in app/)', () => {
    assert.equal(loadConfig({ env: {}, file: emptyFile }).dnsTrackTarget, undefined);
    const config = loadConfig({ env: { POSTLOG_DNS_TRACK_TARGET: 'track.mail.example.com' }, file: emptyFile });
    assert.equal(config.dnsTrackTarget, 'track.mail.example.com');
  });

  it('POSTLOG_ROLES is a comma list', () => {
    const config = loadConfig({ env: { POSTLOG_ROLES: 'api, mta' }, file: emptyFile });
    assert.deepEqual(config.roles, ['api', 'mta']);
  });

  it('POSTLOG_CONFIG names the YAML file when no file is passed', () => {
    const file = yamlFile('httpPort: 6001\n');
    assert.equal(loadConfig({ env: { POSTLOG_CONFIG: file } }).httpPort, 6001);
  });

  it('an explicit file wins over POSTLOG_CONFIG', () => {
    const file = yamlFile('httpPort: 6002\n');
    const other = yamlFile('httpPort: 6003\n');
    assert.equal(loadConfig({ env: { POSTLOG_CONFIG: other }, file }).httpPort, 6002);
  });
});

describe('loadConfig: YAML file', () => {
  it('reads camelCase keys, lists as YAML sequences', () => {
    const file = yamlFile(
      [
        'httpPort: 7000',
        'dataDir: /srv/postlog',
        'logLevel: warn',
        'dnsServers:',
        '  - 9.9.9.9',
        '  - 1.0.0.1:53',
        'roles: [mta, projector]',
        '',
      ].join('\n'),
    );
    const config = loadConfig({ env: {}, file });
    assert.equal(config.httpPort, 7000);
    assert.equal(config.dataDir, '/srv/postlog');
    assert.equal(config.logLevel, 'warn');
    assert.deepEqual(config.dnsServers, ['9.9.9.9', '1.0.0.1:53']);
    assert.deepEqual(config.roles, ['mta', 'projector']);
    assert.equal(config.mtaPort, 25);
  });

  it('environment variables win over the file', () => {
    const file = yamlFile('httpPort: 7000\nlogLevel: warn\nmtaPort: 2525\n');
    const config = loadConfig({ env: { POSTLOG_HTTP_PORT: '7001', POSTLOG_LOG_LEVEL: 'error' }, file });
    assert.equal(config.httpPort, 7001);
    assert.equal(config.logLevel, 'error');
    assert.equal(config.mtaPort, 2525, 'file values the environment does not set are kept');
  });

  it('a key with no value in the file means the default', () => {
    const config = loadConfig({ env: {}, file: yamlFile('httpPort:\nlogLevel: warn\n') });
    assert.equal(config.httpPort, 5000);
    assert.equal(config.logLevel, 'warn');
  });

  it('overrides (CLI flags) win over environment and file', () => {
    const file = yamlFile('httpPort: 7000\n');
    const config = loadConfig({ env: { POSTLOG_HTTP_PORT: '7001' }, file, overrides: { httpPort: 7002 } });
    assert.equal(config.httpPort, 7002);
  });

  it('a bad file value is named by its key and file', () => {
    const file = yamlFile('httpPort: 70000\n');
    const problems = problemsOf(() => loadConfig({ env: {}, file }));
    assert.equal(problems.length, 1);
    assertNamed(problems, `httpPort in ${file}`);
    assert.match(problems[0]!, /\(got 70000\)$/);
  });

  it('a bad file value overridden by a good environment variable is no problem', () => {
    const file = yamlFile('httpPort: nope\n');
    assert.equal(loadConfig({ env: { POSTLOG_HTTP_PORT: '8000' }, file }).httpPort, 8000);
  });

  it('a bad environment variable over a good file value is named by the variable', () => {
    const file = yamlFile('httpPort: 7000\n');
    const problems = problemsOf(() => loadConfig({ env: { POSTLOG_HTTP_PORT: 'x' }, file }));
    assert.equal(problems.length, 1);
    assertNamed(problems, 'POSTLOG_HTTP_PORT');
  });

  it('unknown keys are reported', () => {
    const file = yamlFile('httpPort: 7000\nhttpPrt: 7001\ncolour: blue\n');
    const problems = problemsOf(() => loadConfig({ env: {}, file }));
    assert.equal(problems.length, 2);
    assert.ok(problems[0]!.startsWith(`${file}: unknown setting "httpPrt"`), problems[0]);
    assert.ok(problems[1]!.startsWith(`${file}: unknown setting "colour"`), problems[1]);
    assert.match(problems[0]!, /known: dataDir, /);
  });

  it('a file that is not a mapping is reported', () => {
    const file = yamlFile('- httpPort\n- 7000\n');
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: {}, file })),
      [`${file}: must be a mapping of settings`],
    );
  });

  it('a missing file is reported', () => {
    const file = join(dir, 'does-not-exist.yaml');
    const problems = problemsOf(() => loadConfig({ env: {}, file }));
    assert.equal(problems.length, 1);
    assert.ok(problems[0]!.startsWith(`${file}: `), problems[0]);
    assert.match(problems[0]!, /ENOENT/);
  });

  it('malformed YAML is reported', () => {
    const file = yamlFile('httpPort: [1, 2\n');
    const problems = problemsOf(() => loadConfig({ env: {}, file }));
    assert.equal(problems.length, 1);
    assert.ok(problems[0]!.startsWith(`${file}: `), problems[0]);
  });
});

describe('loadConfig: invalid configuration', () => {
  it('Kafka SASL settings come complete: a mechanism with username and password', () => {
    const noPassword = problemsOf(() =>
      loadConfig({
        env: { POSTLOG_KAFKA_SASL_MECHANISM: 'scram-sha-256', POSTLOG_KAFKA_SASL_USERNAME: 'postlog' },
        file: emptyFile,
      }),
    );
    assert.deepEqual(noPassword, [
      'POSTLOG_KAFKA_SASL_MECHANISM: needs POSTLOG_KAFKA_SASL_USERNAME and POSTLOG_KAFKA_SASL_PASSWORD',
    ]);
    const noMechanism = problemsOf(() =>
      loadConfig({
        env: { POSTLOG_KAFKA_SASL_USERNAME: 'postlog', POSTLOG_KAFKA_SASL_PASSWORD: 'pw' },
        file: emptyFile,
      }),
    );
    assert.equal(noMechanism.length, 1);
    assertNamed(noMechanism, 'POSTLOG_KAFKA_SASL_MECHANISM');
    const complete = loadConfig({
      env: {
        POSTLOG_KAFKA_SASL_MECHANISM: 'plain',
        POSTLOG_KAFKA_SASL_USERNAME: 'postlog',
        POSTLOG_KAFKA_SASL_PASSWORD: 'pw',
      },
      file: emptyFile,
    });
    assert.equal(complete.kafkaSaslMechanism, 'plain');
  });

  it('reports every bad key at once, each by its environment variable', () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { POSTLOG_HTTP_PORT: 'eighty', POSTLOG_LOG_LEVEL: 'loud' }, file: emptyFile }),
    );
    assert.equal(problems.length, 2, JSON.stringify(problems));
    assertNamed(problems, 'POSTLOG_HTTP_PORT');
    assertNamed(problems, 'POSTLOG_LOG_LEVEL');
    assert.ok(problems.some((p) => p.includes('(got "eighty")')));
    assert.ok(problems.some((p) => p.includes('(got "loud")')));
  });

  it('names many bad keys of different kinds', () => {
    const env = {
      POSTLOG_HTTP_PORT: '0',
      POSTLOG_MTA_PORT: '65536',
      POSTLOG_SUBMISSION_PORT: '25.5',
      POSTLOG_DATABASE_URL: 'mysql://db/postlog',
      POSTLOG_DATABASE_POOL_SIZE: '1',
      POSTLOG_ENVIRONMENT: 'staging',
      POSTLOG_LOG_FORMAT: 'xml',
      POSTLOG_ROLES: 'api,mailer',
      POSTLOG_DNS_SERVERS: '1.1.1.1,dns.google',
      POSTLOG_SHUTDOWN_TIMEOUT_MS: '-1',
    };
    const problems = problemsOf(() => loadConfig({ env, file: emptyFile }));
    for (const name of Object.keys(env)) assertNamed(problems, name);
    assert.equal(problems.length, Object.keys(env).length, JSON.stringify(problems));
    assert.ok(problems.some((p) => p.startsWith('POSTLOG_DATABASE_URL: must be a postgres:// or postgresql:// URL')));
    assert.ok(problems.some((p) => p.startsWith('POSTLOG_DNS_SERVERS: must be IP addresses')));
  });

  it('file problems and value problems are reported together', () => {
    const file = yamlFile('bogus: 1\nlogLevel: loud\n');
    const problems = problemsOf(() => loadConfig({ env: { POSTLOG_HTTP_PORT: 'x' }, file }));
    assert.equal(problems.length, 3, JSON.stringify(problems));
    assert.ok(problems.some((p) => p.startsWith(`${file}: unknown setting "bogus"`)));
    assertNamed(problems, `logLevel in ${file}`);
    assertNamed(problems, 'POSTLOG_HTTP_PORT');
  });

  it('a bad override is named by its flag', () => {
    const problems = problemsOf(() => loadConfig({ env: {}, file: emptyFile, overrides: { httpPort: 'x' } }));
    assert.equal(problems.length, 1);
    assertNamed(problems, '--httpPort');
  });

  it('the EventStoreDB log needs its connection string', () => {
    const problems = problemsOf(() => loadConfig({ env: { POSTLOG_EVENT_STORE: 'esdb' }, file: emptyFile }));
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.match(problems[0]!, /^POSTLOG_ESDB_URL: required when POSTLOG_EVENT_STORE is esdb/);
    const config = loadConfig({
      env: { POSTLOG_EVENT_STORE: 'esdb', POSTLOG_ESDB_URL: 'kurrentdb://kurrentdb:2113?tls=false' },
      file: emptyFile,
    });
    assert.equal(config.esdbUrl, 'kurrentdb://kurrentdb:2113?tls=false');
    assertNamed(
      problemsOf(() => loadConfig({ env: { POSTLOG_ESDB_URL: 'http://kurrentdb:2113' }, file: emptyFile })),
      'POSTLOG_ESDB_URL',
    );
  });
});

describe('loadConfig: warnings and clear messages', () => {
  it('warns about a POSTLOG_* variable that is no setting, with the setting it probably meant', () => {
    const warnings: string[] = [];
    loadConfig({
      env: { POSTLOG_HTTP_PRT: '5001', POSTLOG_NOTHING_LIKE_IT: 'x', POSTLOG_HOSTNAME: 'mail.example.com' },
      file: emptyFile,
      warnings,
    });
    assert.deepEqual(warnings, [
      'POSTLOG_HTTP_PRT is not a Postlog setting and is ignored; did you mean POSTLOG_HTTP_PORT?',
      'POSTLOG_NOTHING_LIKE_IT is not a Postlog setting and is ignored',
    ]);
  });

  it('warns when the host name is not fully qualified (DNS records would name spf.<short name>)', () => {
    const warnings: string[] = [];
    loadConfig({ env: { POSTLOG_HOSTNAME: 'vm' }, file: emptyFile, warnings });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^POSTLOG_HOSTNAME "vm" is not a fully qualified domain name/);
  });

  it('says what a port must be', () => {
    for (const bad of ['abc', '0', '70000', '1.5']) {
      assert.throws(
        () => loadConfig({ env: { POSTLOG_HTTP_PORT: bad }, file: emptyFile }),
        (e: ConfigError) => e.problems.some((p) => p.startsWith('POSTLOG_HTTP_PORT: must be a port number (1-65535)')),
        bad,
      );
    }
  });
});

describe('loadConfig: SMTP submission settings (secrets key, PROXY protocol)', () => {
  it('POSTLOG_SECRETS_KEY is base64 of 32 bytes; anything else is named', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    assert.equal(loadConfig({ env: { POSTLOG_SECRETS_KEY: key }, file: emptyFile }).secretsKey, key);
    for (const bad of ['short', Buffer.alloc(16, 7).toString('base64'), `${key}x`])
      assertNamed(
        problemsOf(() => loadConfig({ env: { POSTLOG_SECRETS_KEY: bad }, file: emptyFile })),
        'POSTLOG_SECRETS_KEY',
      );
  });

  it('POSTLOG_SECRETS_PREVIOUS_KEYS is a comma list of keys (none by default); a bad one is named', () => {
    const [a, b] = [Buffer.alloc(32, 1).toString('base64'), Buffer.alloc(32, 2).toString('base64')];
    assert.deepEqual(loadConfig({ env: {}, file: emptyFile }).secretsPreviousKeys, []);
    const env = { POSTLOG_SECRETS_PREVIOUS_KEYS: `${a}, ${b}` };
    assert.deepEqual(loadConfig({ env, file: emptyFile }).secretsPreviousKeys, [a, b]);
    assertNamed(
      problemsOf(() => loadConfig({ env: { POSTLOG_SECRETS_PREVIOUS_KEYS: `${a},short` }, file: emptyFile })),
      'POSTLOG_SECRETS_PREVIOUS_KEYS',
    );
  });

  it('POSTLOG_SMTP_PROXY_FROM is a comma list of CIDR ranges; a bad one is named', () => {
    const env = { POSTLOG_SMTP_PROXY_FROM: '10.0.0.0/8, 2001:db8::/32,127.0.0.1' };
    assert.deepEqual(loadConfig({ env, file: emptyFile }).smtpProxyFrom, ['10.0.0.0/8', '2001:db8::/32', '127.0.0.1']);
    const problems = problemsOf(() =>
      loadConfig({ env: { POSTLOG_SMTP_PROXY_FROM: '10.0.0.0/8,proxy.lan' }, file: emptyFile }),
    );
    assertNamed(problems, 'POSTLOG_SMTP_PROXY_FROM');
    assert.match(problems[0]!, /proxy\.lan/);
  });
});

describe('loadConfig: spam and virus scanning', () => {
  it('each scanner is on by its address; the failure policy, timeout and thresholds are read', () => {
    const config = loadConfig({
      env: {
        POSTLOG_RSPAMD_URL: 'http://127.0.0.1:11333',
        POSTLOG_SPAMD_HOST: 'spamd.internal',
        POSTLOG_SPAMD_PORT: '7830',
        POSTLOG_CLAMD_SOCKET: '/run/clamav/clamd.ctl',
        POSTLOG_SCAN_TIMEOUT_SECONDS: '2.5',
        POSTLOG_SCAN_FAILURE: 'tempfail',
        POSTLOG_SPAM_THRESHOLD: '6.5',
        POSTLOG_SPAM_FAIL_THRESHOLD: '15',
      },
      file: emptyFile,
    });
    assert.equal(config.rspamdUrl, 'http://127.0.0.1:11333');
    assert.equal(config.spamdHost, 'spamd.internal');
    assert.equal(config.spamdPort, 7830);
    assert.equal(config.clamdSocket, '/run/clamav/clamd.ctl');
    assert.equal(config.clamdHost, undefined);
    assert.equal(config.scanTimeoutSeconds, 2.5);
    assert.equal(config.scanFailure, 'tempfail');
    assert.equal(config.spamThreshold, 6.5);
    assert.equal(config.spamFailThreshold, 15);
  });

  it('the outbound virus scan is on by default and turned off with off', () => {
    assert.equal(loadConfig({ env: {}, file: emptyFile }).outboundVirusScan, true);
    const off = loadConfig({ env: { POSTLOG_OUTBOUND_VIRUS_SCAN: 'off' }, file: emptyFile });
    assert.equal(off.outboundVirusScan, false);
    assert.equal(loadConfig({ env: { POSTLOG_OUTBOUND_VIRUS_SCAN: 'on' }, file: emptyFile }).outboundVirusScan, true);
    assertNamed(
      problemsOf(() => loadConfig({ env: { POSTLOG_OUTBOUND_VIRUS_SCAN: 'sometimes' }, file: emptyFile })),
      'POSTLOG_OUTBOUND_VIRUS_SCAN',
    );
  });

  it('names a bad policy, both clamd addresses at once, and a fail threshold under the spam threshold', () => {
    assertNamed(
      problemsOf(() => loadConfig({ env: { POSTLOG_SCAN_FAILURE: 'reject' }, file: emptyFile })),
      'POSTLOG_SCAN_FAILURE',
    );
    const both = problemsOf(() =>
      loadConfig({ env: { POSTLOG_CLAMD_HOST: '127.0.0.1', POSTLOG_CLAMD_SOCKET: '/run/clamd.ctl' }, file: emptyFile }),
    );
    assert.ok(
      both.some((p) => p.startsWith('POSTLOG_CLAMD_HOST and POSTLOG_CLAMD_SOCKET: set one of them')),
      String(both),
    );
    assertNamed(
      problemsOf(() =>
        loadConfig({ env: { POSTLOG_SPAM_THRESHOLD: '8', POSTLOG_SPAM_FAIL_THRESHOLD: '6' }, file: emptyFile }),
      ),
      'POSTLOG_SPAM_FAIL_THRESHOLD',
    );
  });
});
