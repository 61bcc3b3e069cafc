import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DCLinter } from 'dclint';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigSchema, RoleName, envNameOf, loadConfig, roleNames } from '../../infra/config/index.js';
import { configKeys } from '../../infra/config/schema.js';

/*
 * Docker cannot run on these machines, so the scale stack's docker-compose.yml is checked here
 * against what Postlog itself accepts: every service is buildable or pulled, every POSTLOG_*
 * variable is a setting with a valid value, dependencies and volumes exist, ports do not collide,
 * and the Dockerfile starts a file the build really produces.
 */
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const composeFile = join(repo, 'docker-compose.yml');
const dockerfile = join(repo, 'Dockerfile');

const Service = z.object({
  image: z.string().min(1).optional(),
  build: z.union([z.string(), z.object({ context: z.string(), dockerfile: z.string().optional() })]).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  ports: z.array(z.string()).optional(),
  volumes: z.array(z.string()).optional(),
  depends_on: z
    .union([
      z.array(z.string()),
      z.record(
        z.string(),
        z.object({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']) }),
      ),
    ])
    .optional(),
  healthcheck: z.object({ test: z.union([z.string(), z.array(z.string()).min(2)]) }).optional(),
  deploy: z.object({ replicas: z.number().int().min(1).optional() }).optional(),
});
const Compose = z.object({
  services: z.record(z.string(), Service),
  volumes: z.record(z.string(), z.unknown().nullable()).optional(),
});

const compose = Compose.parse(parse(readFileSync(composeFile, 'utf8'), { merge: true }));
const services = compose.services;
const postlogServices = Object.entries(services).filter(([, s]) =>
  Object.keys(s.environment ?? {}).some((k) => k.startsWith('POSTLOG_')),
);
const engines = ['kurrentdb', 'postgres', 'clickhouse', 'kafka'];

/** Compose interpolation, with the defaults the file gives (`${NAME:-default}`); a bare `${NAME}` must be set by the operator. */
/** The secrets an operator must set in .env (`${NAME:?why}`): compose refuses to start without them. */
const REQUIRED_SECRETS = new Set(['POSTLOG_METRICS_TOKEN']);

function interpolate(value: string): string {
  return value.replace(
    /\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}/g,
    (_, name: string, kind: string | undefined, rest: string | undefined) => {
      if (kind === '?') {
        assert.ok(
          REQUIRED_SECRETS.has(name),
          `\${${name}} must be set: only ${[...REQUIRED_SECRETS].join(', ')} may be required`,
        );
        assert.ok(rest, `\${${name}:?} says why it is needed`);
        return `${name.toLowerCase()}-as-the-operator-sets-it`;
      }
      assert.notEqual(kind, undefined, `\${${name}} has no default: the stack would not start without an .env`);
      return rest!;
    },
  );
}

const envOf = (name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ''))]),
  );

const dir = mkdtempSync(join(tmpdir(), 'postlog-compose-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const noFile = join(dir, 'empty.yaml');
writeFileSync(noFile, '');

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema, with no linter errors (dclint)', () => {
    const linter = new DCLinter({ rules: {}, quiet: true, debug: false, exclude: [] });
    const [result] = linter.lintFiles([composeFile], false);
    assert.ok(result, 'dclint read the file');
    type Message = { type: string; line: number; rule: string; message: string };
    const errors = (result.messages as Message[])
      .filter((m) => m.type === 'error')
      .map((m) => `${m.line}: ${m.rule}: ${m.message}`);
    assert.deepEqual(errors, []);
  });

  it('has the engines and the Postlog roles as separate services', () => {
    for (const name of [...engines, 'postlog-api', 'postlog-mta', 'postlog-projector'])
      assert.ok(services[name], `service ${name}`);
    assert.ok(postlogServices.length >= 3);
  });

  it('every service has an image or a build whose context holds the Dockerfile', () => {
    for (const [name, s] of Object.entries(services)) {
      assert.ok(s.image || s.build, `${name} has neither image nor build`);
      if (s.build) {
        const build = typeof s.build === 'string' ? { context: s.build } : s.build;
        const file = join(repo, build.context, build.dockerfile ?? 'Dockerfile');
        assert.ok(existsSync(file), `${name}: ${file} does not exist`);
      }
    }
  });

  it('every POSTLOG_* variable is a setting, with a value the setting accepts', () => {
    const byEnvName = new Map(configKeys.map((k) => [envNameOf(k), k]));
    for (const [name] of postlogServices) {
      for (const [variable, value] of Object.entries(envOf(name))) {
        if (!variable.startsWith('POSTLOG_')) continue;
        const key = byEnvName.get(variable);
        assert.ok(key, `${name}: ${variable} is not a Postlog setting`);
        const checked = ConfigSchema.shape[key].safeParse(value);
        assert.ok(checked.success, `${name}: ${variable}=${value}: ${checked.success ? '' : checked.error.message}`);
      }
    }
  });

  it('each Postlog service loads as a whole configuration (cross-field checks included), on the EventStoreDB log', () => {
    for (const [name] of postlogServices) {
      const config = loadConfig({ env: envOf(name), file: noFile });
      assert.equal(config.eventStore, 'esdb', name);
      assert.equal(config.httpHost, '0.0.0.0', `${name} must listen beyond the container's loopback`);
    }
  });

  it('roles are valid, and every role runs somewhere', () => {
    const run = new Set<string>();
    for (const [name] of postlogServices) {
      const roles = envOf(name).POSTLOG_ROLES;
      assert.ok(roles, `${name} sets POSTLOG_ROLES`);
      for (const role of roles.split(',')) {
        assert.ok(RoleName.safeParse(role.trim()).success, `${name}: unknown role ${role}`);
        run.add(role.trim());
      }
    }
    assert.deepEqual([...run].sort(), [...roleNames].sort());
    assert.equal(envOf('postlog-mta').POSTLOG_ROLES, 'mta');
    assert.equal(envOf('postlog-projector').POSTLOG_ROLES, 'projector');
    assert.ok((services['postlog-projector']!.deploy?.replicas ?? 1) >= 2, 'a standby projector for failover');
  });

  it('the connection settings name services of this file', () => {
    const env = envOf('postlog-api');
    const host = (url: string) => new URL(url).hostname;
    assert.equal(host(env.POSTLOG_ESDB_URL!.replace(/^kurrentdb/, 'http')), 'kurrentdb');
    assert.equal(host(env.POSTLOG_DATABASE_URL!), 'postgres');
    assert.equal(host(env.POSTLOG_CLICKHOUSE_URL!), 'clickhouse');
    for (const broker of env.POSTLOG_KAFKA_BROKERS!.split(','))
      assert.ok(services[broker.split(':')[0]!], `broker ${broker}`);
    assert.match(
      env.POSTLOG_DATABASE_URL!,
      new RegExp(`:${envOf('postgres').POSTGRES_PASSWORD}@`),
      'the same Postgres password on both sides',
    );
    assert.equal(env.POSTLOG_CLICKHOUSE_PASSWORD, envOf('clickhouse').CLICKHOUSE_PASSWORD);
  });

  it('dependencies name existing services, and waiting for health needs a health check', () => {
    const dockerfileHasHealthcheck = /^HEALTHCHECK /m.test(readFileSync(dockerfile, 'utf8'));
    for (const [name, s] of Object.entries(services)) {
      const deps = Array.isArray(s.depends_on)
        ? Object.fromEntries(s.depends_on.map((d) => [d, { condition: 'service_started' }]))
        : (s.depends_on ?? {});
      for (const [dep, { condition }] of Object.entries(deps)) {
        const target = services[dep];
        assert.ok(target, `${name} depends on unknown service ${dep}`);
        if (condition === 'service_healthy')
          assert.ok(
            target.healthcheck || (target.build && dockerfileHasHealthcheck),
            `${name} waits for ${dep} to be healthy, which has no health check`,
          );
      }
    }
    for (const [name] of postlogServices) {
      const deps = services[name]!.depends_on as Record<string, { condition: string }>;
      for (const engine of ['kurrentdb', 'postgres'])
        assert.equal(deps[engine]?.condition, 'service_healthy', `${name} waits for ${engine}`);
    }
  });

  it('the engines have health checks and named volumes', () => {
    for (const name of engines) {
      assert.ok(services[name]!.healthcheck, `${name} has a health check`);
      assert.ok((services[name]!.volumes ?? []).length > 0, `${name} keeps its data in a volume`);
    }
  });

  it('named volumes are declared, and published host ports do not collide', () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    const published = new Map<string, string>();
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/'))
          assert.ok(declared.has(source), `${name} uses undeclared volume ${source}`);
      }
      for (const p of s.ports ?? []) {
        const parts = p.split(':');
        assert.ok(parts.length >= 2, `${name}: publish "${p}" as [ip:]host:container`);
        const hostPort = parts[parts.length - 2]!;
        assert.ok(
          !(s.deploy?.replicas && s.deploy.replicas > 1),
          `${name} has replicas and a published port: they would collide`,
        );
        const prior = published.get(hostPort);
        assert.equal(prior, undefined, `host port ${hostPort} published by ${prior} and ${name}`);
        published.set(hostPort, name);
      }
    }
  });

  it('the Postlog ports published are the ones the services listen on', () => {
    const env = envOf('postlog-api');
    const containerPorts = (services['postlog-api']!.ports ?? []).map((p) => p.split(':').pop());
    const config = loadConfig({ env, file: noFile });
    for (const port of [config.httpPort, config.submissionPort, config.submissionTlsPort, config.inboundPort])
      assert.ok(containerPorts.includes(String(port)), `port ${port} is published`);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(dockerfile, 'utf8');

  it('starts `postlog start` from a file the TypeScript build produces', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(text);
    assert.ok(cmd, 'CMD in exec form');
    const args = JSON.parse(cmd[1]!) as string[];
    assert.equal(args[0], 'node');
    assert.equal(args[args.length - 1], 'start');
    // the image compiles into dist/ as `npm run build` does here
    assert.ok(existsSync(join(repo, args[1]!)), `${args[1]} exists after the build`);
  });

  it('runs as an unprivileged user, on Node 24, with a readiness health check', () => {
    assert.match(text, /^FROM node:24-slim/m);
    assert.match(text, /^USER node$/m);
    assert.match(text, /^HEALTHCHECK [^\n]*\\\n\s+CMD .*\/ready/m);
    assert.match(text, /RUN npm ci/);
  });

  it('copies every source folder the TypeScript build includes', () => {
    const tsconfig = JSON.parse(readFileSync(join(repo, 'tsconfig.json'), 'utf8')) as { include: string[] };
    for (const folder of tsconfig.include)
      assert.match(text, new RegExp(`^COPY ${folder} \\./${folder}$`, 'm'), `COPY ${folder}`);
  });
});
