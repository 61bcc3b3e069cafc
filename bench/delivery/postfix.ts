import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGNED_HEADERS } from '../../mta/signing/dkim.js';
import { freePort } from '../../test/helpers/ports.js';
import { postfixAvailable, startPostfix } from '../../test/helpers/postfix.js';
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

const OPENDKIM = '/usr/sbin/opendkim';
const POSTFIX_HOST = '127.0.0.6';

/** OpenDKIM as a milter in the foreground, signing for the sending domain (RSA-2048, relaxed/relaxed). */
async function startOpenDkim(): Promise<{ socket: string; process: ChildProcess; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'opendkim-'));
  const port = await freePort();
  const key = rsaKeyPair();
  writeFileSync(join(dir, 'bench.private'), key.privatePem, { mode: 0o600 });
  writeFileSync(
    join(dir, 'opendkim.conf'),
    [
      'Syslog no',
      'Background no',
      'Mode s',
      // its files live in a temporary folder (under /tmp, which others may write): no ownership check
      'RequireSafeKeys false',
      `Domain ${SENDER_DOMAIN}`,
      `Selector ${SELECTOR}`,
      `KeyFile ${join(dir, 'bench.private')}`,
      `Socket inet:${port}@127.0.0.1`,
      'Canonicalization relaxed/relaxed',
      'SignatureAlgorithm rsa-sha256',
      // the fields Postlog signs, so both do the same work
      `SignHeaders ${SIGNED_HEADERS.split(':').join(',')}`,
      'OversignHeaders From',
      // the client connects from loopback: an internal host, whose mail is signed
      'InternalHosts 127.0.0.0/8',
      `PidFile ${join(dir, 'opendkim.pid')}`,
      '',
    ].join('\n'),
  );
  const child = spawn(OPENDKIM, ['-f', '-x', join(dir, 'opendkim.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort('127.0.0.1', port, 'opendkim', () => child.exitCode);
  return {
    socket: `inet:127.0.0.1:${port}`,
    process: child,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Postfix relaying everything to the sink as its relayhost; with OpenDKIM, every message signed on the way. */
async function startPostfixRelay(sink: Sink, bytes: number, dkim: boolean): Promise<RunningSystem> {
  const milter = dkim ? await startOpenDkim() : undefined;
  const port = await freePort();
  const postfix = startPostfix({
    host: POSTFIX_HOST,
    port,
    relayTo: { host: sink.host, port: sink.port },
    ...(milter ? { milter: milter.socket } : {}),
  });
  await new Promise((r) => setTimeout(r, 1500)); // master starts its services
  const text = body(bytes);
  return {
    submit: (first, count) =>
      submitPipelined(() => PipeliningSmtpClient.connectPlain(POSTFIX_HOST, port), first, count, text),
    pids: () => [postfix.masterPid(), milter?.process.pid].filter((p): p is number => p !== undefined),
    async stop() {
      postfix.stop();
      milter?.stop();
    },
  };
}

const postfixMissing = () =>
  postfixAvailable() ? undefined : 'needs root and Debian’s postfix (apt-get install postfix; .ci/run installs it)';

export const postfixRelay: DeliverySystem = {
  key: 'postfix',
  label: 'Postfix relay (relayhost → sink), no signing',
  signs: false,
  unavailable: postfixMissing,
  start: (sink, bytes) => startPostfixRelay(sink, bytes, false),
};

export const postfixOpenDkim: DeliverySystem = {
  key: 'postfix-dkim',
  label: 'Postfix relay + OpenDKIM milter (RSA-2048, relaxed/relaxed)',
  signs: true,
  unavailable: () =>
    postfixMissing() ?? (existsSync(OPENDKIM) ? undefined : 'needs Debian’s opendkim (apt-get install opendkim)'),
  start: (sink, bytes) => startPostfixRelay(sink, bytes, true),
};
