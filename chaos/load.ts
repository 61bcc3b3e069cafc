import nodemailer from 'nodemailer';
import type { Acknowledged } from './accounting.js';

export interface LoadOptions {
  url: string;
  apiKey: string;
  smtpPort: number;
  smtp: { username: string; password: string };
  /** messages per second, alternately over HTTP and SMTP */
  rate: number;
  recipients: readonly string[];
  /** ms since the load started */
  now: () => number;
}

/** Requests in flight at most: a dead server must not pile up thousands of waiting clients. */
const MAX_IN_FLIGHT = 40;

/**
 * A steady load: every 1/rate s one message to the next recipient, over POST /v2/messages or SMTP
 * submission in turn. What was acknowledged (202, or 250 with "queued as <ids>") is recorded with its
 * recipient; a refusal, an error or no answer is counted as not acknowledged, as a client would.
 */
export function startLoad(o: LoadOptions) {
  const acknowledged: Acknowledged[] = [];
  const refused = { http: 0, smtp: 0 };
  let inFlight = 0;
  let n = 0;
  const pending = new Set<Promise<void>>();
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: o.smtpPort,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: o.smtp.username, pass: o.smtp.password },
    pool: true,
    maxConnections: 4,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });

  const viaHttp = async (to: string) => {
    try {
      const res = await fetch(`${o.url}/v2/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-server-api-key': o.apiKey },
        body: JSON.stringify({ from: 'app@sender.test', to: [to], subject: 'chaos', text: `http ${n}` }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await res.json()) as { messages?: { id: string }[] };
      if (res.status !== 202 || !body.messages) return void refused.http++;
      for (const m of body.messages) acknowledged.push({ id: m.id, recipient: to, via: 'http', at: o.now() });
    } catch {
      refused.http++;
    }
  };
  const viaSmtp = async (to: string) => {
    try {
      const info = await transport.sendMail({ from: 'app@sender.test', to, subject: 'chaos', text: `smtp ${n}` });
      const ids = /queued as (\S+)/.exec(String(info.response))?.[1]?.split(',') ?? [];
      if (ids.length === 0) return void refused.smtp++;
      for (const id of ids) acknowledged.push({ id, recipient: to, via: 'smtp', at: o.now() });
    } catch {
      refused.smtp++;
    }
  };

  const timer = setInterval(
    () => {
      if (inFlight >= MAX_IN_FLIGHT) return;
      const to = o.recipients[n % o.recipients.length]!;
      const send = n % 2 === 0 ? viaHttp(to) : viaSmtp(to);
      n++;
      inFlight++;
      const p = send.finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    },
    Math.max(5, Math.round(1000 / o.rate)),
  );

  return {
    acknowledged,
    refused,
    attempted: () => n,
    /** Stops sending and waits for the answers still due. */
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
      transport.close();
    },
  };
}
