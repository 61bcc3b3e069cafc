import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIGNED_HEADERS } from '../../mta/signing/dkim.js';
import { freePort } from '../../test/helpers/ports.js';
import { PipeliningSmtpClient } from '../smtp-load-client.js';
import {
  body,
  rsaKeyPair,
  SELECTOR,
  SENDER_DOMAIN,
  submitPipelined,
  type DeliverySystem,
  type RunningSystem,
  type Sink,
  waitForPort,
} from './system.js';

/** bench/references in the source tree (this file runs from dist/bench/delivery). */
const REFERENCES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'references');
const HARAKA_DIR = join(REFERENCES, 'node_modules', 'Haraka');
const HARAKA_BIN = join(HARAKA_DIR, 'bin', 'haraka');
const HARAKA_HOST = '127.0.0.7';

/**
 * Haraka is not Postlog's dependency: it is installed from bench/references' lock file the first time the
 * benchmark needs it (the npm registry is reachable wherever `npm install` works), without optional plugins.
 */
function installHaraka(): string | undefined {
  if (existsSync(HARAKA_BIN)) return undefined;
  const r = spawnSync('npm', ['ci', '--prefix', REFERENCES, '--omit=optional', '--no-audit', '--no-fund'], {
    encoding: 'utf8',
  });
  return r.status === 0 && existsSync(HARAKA_BIN) ? undefined : `npm ci in bench/references failed: ${r.stderr}`;
}

/**
 * The benchmark's own plugin: every client relays (as an MSA's authenticated users would), and outbound
 * delivery goes to the sink for every domain (as dnsmasq's MX records send Postlog's MTA there).
 */
const routePlugin = (sink: Sink) => `'use strict'
exports.hook_connect_init = function (next, connection) {
  connection.relaying = true
  next()
}
exports.hook_get_mx = function (next) {
  next(OK, { exchange: '${sink.host}', port: ${sink.port}, priority: 10 })
}
`;

/** Haraka's outbound queue (as many workers as cores) delivering to the sink; with `dkim`, its plugin signs. */
async function startHaraka(sink: Sink, bytes: number, dkim: boolean): Promise<RunningSystem> {
  const failure = installHaraka();
  if (failure) throw new Error(failure);
  const dir = mkdtempSync(join(tmpdir(), 'haraka-'));
  const config = join(dir, 'config');
  mkdirSync(join(dir, 'plugins'));
  // Haraka's own defaults (connection.ini's greeting…), as `haraka -i` lays them out, then ours over them
  cpSync(join(HARAKA_DIR, 'config'), config, { recursive: true });
  const port = await freePort();
  writeFileSync(join(dir, 'plugins', 'bench_route.js'), routePlugin(sink));
  writeFileSync(join(config, 'smtp.ini'), `listen=${HARAKA_HOST}:${port}\nnodes=${cpus().length}\n`);
  writeFileSync(join(config, 'plugins'), ['bench_route', ...(dkim ? ['dkim'] : [])].join('\n'));
  writeFileSync(join(config, 'log.ini'), '[main]\nlevel=warn\n');
  // the sink speaks no TLS; delivering to a loopback address is what this set-up is for
  writeFileSync(join(config, 'outbound.ini'), '[main]\nenable_tls=false\nlocal_mx_ok=true\n');
  writeFileSync(join(config, 'me'), 'haraka.bench\n');
  if (dkim) {
    const key = rsaKeyPair();
    mkdirSync(join(config, 'dkim', SENDER_DOMAIN), { recursive: true });
    writeFileSync(join(config, 'dkim', SENDER_DOMAIN, 'private'), key.privatePem);
    writeFileSync(join(config, 'dkim', SENDER_DOMAIN, 'selector'), `${SELECTOR}\n`);
    writeFileSync(
      join(config, 'dkim.ini'),
      // the fields Postlog signs; relaxed body as Postlog and OpenDKIM (headers are always relaxed there)
      `[sign]\nenabled=true\nheaders=${SIGNED_HEADERS.split(':').join(', ')}\n\n[canon]\nbody=relaxed\n\n` +
        '[verify]\nenabled=false\n',
    );
  }
  const child = spawn(process.execPath, [HARAKA_BIN, '-c', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(HARAKA_HOST, port, 'Haraka', () => child.exitCode);
  } catch (err) {
    await stop();
    throw err;
  }
  const text = body(bytes);
  return {
    submit: (first, count) =>
      submitPipelined(() => PipeliningSmtpClient.connectPlain(HARAKA_HOST, port), first, count, text),
    pids: () => (child.pid ? [child.pid] : []),
    stop,
  };
}

export const haraka: DeliverySystem = {
  key: 'haraka',
  label: `Haraka 3.3.4 outbound queue, ${cpus().length} workers, no signing`,
  signs: false,
  unavailable: () => undefined,
  start: (sink, bytes) => startHaraka(sink, bytes, false),
};

export const harakaDkim: DeliverySystem = {
  key: 'haraka-dkim',
  label: `Haraka 3.3.4 outbound queue, ${cpus().length} workers, + dkim plugin (RSA-2048)`,
  signs: true,
  unavailable: () => undefined,
  start: (sink, bytes) => startHaraka(sink, bytes, true),
};
