import { startSmtpSink, type SmtpSink } from '../test/helpers/smtp-sink.js';
import type { Delivery } from './accounting.js';

/** A receiving server for one recipient domain, whose faults the chaos run switches on and off. */
export interface ChaosSink {
  domain: string;
  sink: SmtpSink;
  recipients: string[];
  greeting421: boolean;
  stallMs: number;
}

/** "X-Postlog-MsgID: <message id>-<token>" (mta/signing/prepare-message.ts) */
const MSGID = /^X-Postlog-MsgID:[ \t]*(\d+)-/im;

/** Three sinks (chaos-a/b/c.test) on 127.0.0.21-23 at `port`, ten recipients each. */
export async function startSinks(port: number): Promise<ChaosSink[]> {
  return Promise.all(
    ['a', 'b', 'c'].map(async (letter, i) => {
      const domain = `chaos-${letter}.test`;
      const state: Partial<ChaosSink> = { greeting421: false, stallMs: 0 };
      const sink = await startSmtpSink(`127.0.0.${21 + i}`, port, {
        tls: false,
        greeting421: () => state.greeting421!,
        replyDelayMs: () => state.stallMs!,
      });
      return Object.assign(state, {
        domain,
        sink,
        recipients: Array.from({ length: 10 }, (_, n) => `r${n}@${domain}`),
      }) as ChaosSink;
    }),
  );
}

/**
 * Collects what the sinks received as deliveries (the X-Postlog-MsgID header names the message), each
 * stamped when it was first seen (polled every 200 ms).
 */
export function collectDeliveries(sinks: ChaosSink[], now: () => number) {
  const deliveries: Delivery[] = [];
  const seen = sinks.map(() => 0);
  let foreign = 0;
  const scan = () => {
    sinks.forEach((s, i) => {
      for (; seen[i]! < s.sink.received.length; seen[i]!++) {
        const mail = s.sink.received[seen[i]!]!;
        const head = mail.raw.subarray(0, mail.raw.indexOf('\r\n\r\n') + 1 || undefined).toString('latin1');
        const id = MSGID.exec(head)?.[1];
        if (id) deliveries.push({ id, at: now() });
        else foreign++;
      }
    });
  };
  const timer = setInterval(scan, 200);
  return {
    deliveries,
    /** messages without an X-Postlog-MsgID header (none expected) */
    foreign: () => foreign,
    scan,
    stop() {
      clearInterval(timer);
      scan();
    },
  };
}
