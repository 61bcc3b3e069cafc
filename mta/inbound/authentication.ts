import type { Resolver } from 'node:dns/promises';
import { authenticate } from 'mailauth';
import type { AuthenticationResults } from '../../domain/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { Envelope } from './receive-routed.js';

/**
 * SPF, DKIM, DMARC and ARC of a received message, computed with mailauth against the configured
 * resolver, with the Authentication-Results header endpoints get. DNS trouble is not the
 * sender's fault and loses no mail: the message goes on unauthenticated (said in the log).
 */
export function mailAuthenticator(resolver: Resolver, hostname: string, logger: Logger, deadlineMs = 8000) {
  const resolve = (name: string, rrtype: string) => resolver.resolve(name, rrtype);
  return async (raw: Buffer, envelope: Envelope): Promise<AuthenticationResults | undefined> => {
    try {
      // a sender's DNS that does not answer must not keep its SMTP session waiting for ever
      const r = await withDeadline(
        deadlineMs,
        authenticate(raw, {
          ip: envelope.clientIp,
          helo: envelope.helo,
          sender: envelope.mailFrom,
          mta: hostname,
          resolver: resolve as never,
          disableBimi: true,
        }),
      );
      const dkim = (r.dkim?.results ?? []).map((d: { status?: { result?: string } }) => d.status?.result ?? 'none');
      const header = /Authentication-Results: ([\s\S]*?)\r\n$/.exec(r.headers)?.[1] ?? '';
      return {
        spf: r.spf ? (r.spf.status?.result ?? 'none') : 'none',
        dkim: dkim.includes('pass') ? 'pass' : (dkim[0] ?? 'none'),
        dmarc: r.dmarc ? (r.dmarc.status?.result ?? 'none') : 'none',
        arc: r.arc ? (r.arc.status?.result ?? 'none') : 'none',
        header: header.slice(0, 8000),
      };
    } catch (err) {
      logger.warn({ error: (err as Error).message }, 'inbound authentication could not be computed');
      return undefined;
    }
  };
}

function withDeadline<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
