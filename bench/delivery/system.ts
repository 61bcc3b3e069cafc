import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { rfc5322Date } from '../../domain/index.js';
import type { PipeliningSmtpClient } from '../smtp-load-client.js';

/** The ten recipient domains every system delivers to (one sink behind them all). */
export const DOMAINS = Array.from({ length: 10 }, (_, i) => `d${i}.bench`);
/** The sending domain, its DKIM selector, and the connections the client opens to every system. */
export const SENDER_DOMAIN = 'bench.test';
export const SELECTOR = 'bench';
export const CONNECTIONS = 64;

/** The counting sink every system delivers to. */
export interface Sink {
  host: string;
  port: number;
}

/** A system under test, started: it takes `count` messages from the client; they arrive at the sink. */
export interface RunningSystem {
  /** Hands messages `first` … `first + count - 1` over; resolves when all were accepted (not delivered). */
  submit(first: number, count: number): Promise<void>;
  /** The processes that make up the system (their descendants too): its own CPU is read from them. */
  pids(): number[];
  stop(): Promise<void>;
}

export type Reference = 'postfix' | 'postfix-dkim' | 'haraka' | 'haraka-dkim';
export type SystemKey = 'postlog-http' | 'postlog-smtp' | Reference;

export interface DeliverySystem {
  key: SystemKey;
  label: string;
  /** Whether what reaches the sink carries a DKIM signature (checked on the first message). */
  signs: boolean;
  /** Why it cannot run here, or undefined when it can. */
  unavailable(): string | undefined;
  start(sink: Sink, bytes: number): Promise<RunningSystem>;
}

/** A text body of about `bytes` bytes, CRLF lines of 80 characters. */
export function body(bytes: number): string {
  return 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor.\r\n'
    .repeat(Math.ceil(bytes / 82))
    .slice(0, bytes);
}

export const recipient = (i: number) => `rcpt${i}@${DOMAINS[i % DOMAINS.length]}`;

/** Message `i` as the SMTP-fed systems get it: the same headers a mail client writes. */
export function rawMessage(i: number, text: string): string {
  return [
    `From: Bench <bench@${SENDER_DOMAIN}>`,
    `To: ${recipient(i)}`,
    `Subject: Delivery benchmark ${i}`,
    `Date: ${rfc5322Date(new Date())}`,
    `Message-ID: <${i}.${process.pid}@${SENDER_DOMAIN}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    text,
  ].join('\r\n');
}

/**
 * Messages `first` … `first + count - 1` over CONNECTIONS connections of the pipelining client (MAIL, RCPT and
 * DATA in one write, as MTAs submit), the same client for every SMTP-fed system.
 */
export async function submitPipelined(
  connect: () => Promise<PipeliningSmtpClient>,
  first: number,
  count: number,
  text: string,
): Promise<void> {
  let next = first;
  const last = first + count;
  await Promise.all(
    Array.from({ length: Math.min(CONNECTIONS, count) }, async () => {
      const c = await connect();
      while (next < last) {
        const i = next++;
        await c.send(`bench@${SENDER_DOMAIN}`, recipient(i), rawMessage(i, text));
      }
      await c.quit();
    }),
  );
}

/** An RSA-2048 key pair for the references' DKIM signing (Postlog makes its own). */
export function rsaKeyPair(): { privatePem: string; publicBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    // PKCS#1: the form OpenDKIM's documentation shows; Haraka's plugin reads it too
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

/** Resolves once `host:port` takes connections; fails when the process behind it exits or time runs out. */
export async function waitForPort(
  host: string,
  port: number,
  what: string,
  exitCode: () => number | null,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitCode() !== null) throw new Error(`${what} exited (${exitCode()}) before it listened on ${host}:${port}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host)
        .once('connect', () => {
          socket.destroy();
          resolve(true);
        })
        .once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${host}:${port} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
