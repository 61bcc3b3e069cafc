import type { EventRow } from '../infra/clickhouse/events-table.js';

/**
 * Synthetic engagement events for the analytics benchmarks: rows of the ClickHouse events table as
 * the projection would write them, for messages spread over `days` ending at `end`. Deterministic
 * for a seed, so two runs (or two benches) measure the same data.
 *
 * Per message: MessageAccepted, MessageQueued, then MessageDelivered (92%; 4% after a
 * MessageDeferred), or MessageBounced (4%); of the delivered, 35% are opened 1–3 times (12% of
 * opens by machines), 10% clicked 1–2 times, 0.5% unsubscribe, 0.1% complain. About 4.4 events per
 * message. Servers are skewed: server 0 sends about a third of all mail, the worst case for reports.
 */
export interface SyntheticOptions {
  /** Rows to produce in total. */
  events: number;
  /** Rows per yielded batch (one INSERT). */
  batchSize: number;
  servers?: number;
  days?: number;
  end?: Date;
  seed?: number;
}

export const syntheticDefaults = { servers: 20, days: 30, end: new Date('2026-11-01T00:00:00Z'), seed: 42 };

/** The server id synthetic server n gets (server 0 is the busiest). */
export const syntheticServerId = (n: number) => `srv-${String(n).padStart(4, '0')}`;

// the registrable domain of the MX that took the message, as projections/analytics computes it
const providers = [
  'google.com',
  'outlook.com',
  'yahoo.com',
  'icloud.com',
  'protonmail.ch',
  'gmx.net',
  'zoho.com',
  'isp.example',
];
const providerWeights = [0.38, 0.24, 0.1, 0.08, 0.03, 0.05, 0.02, 0.1];
const recipientDomains: Record<string, string[]> = {
  'google.com': ['gmail.com', 'googlemail.com', 'corp-a.example'],
  'outlook.com': ['outlook.com', 'hotmail.com', 'live.com', 'corp-b.example'],
  'yahoo.com': ['yahoo.com', 'aol.com'],
  'icloud.com': ['icloud.com', 'me.com'],
  'protonmail.ch': ['proton.me'],
  'gmx.net': ['gmx.de', 'web.de'],
  'zoho.com': ['zoho.com'],
  'isp.example': ['example.org', 'example.net', 'mail.example', 'isp.example'],
};
const tags = ['', 'welcome', 'receipt', 'password-reset', 'newsletter', 'digest', 'alert', 'invoice'];
const bounceClasses = ['bad-mailbox', 'mailbox-full', 'policy', 'spam-block', 'auth-failure', 'dns', 'other'];
const sendingIps = Array.from({ length: 200 }, (_, i) => `198.51.100.${i + 1}`);
const urls = Array.from({ length: 40 }, (_, i) => `https://shop.example/p/${i}?utm_source=mail`);

type MessageDims = Pick<
  EventRow,
  'server_id' | 'message_id' | 'recipient_domain' | 'mailbox_provider' | 'sending_domain' | 'tag'
> & { accepted: number };

/** mulberry32: small, fast, seeded. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weighted(random: () => number, weights: number[]): number {
  let r = random();
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

const byteHex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** 4 bytes of n as 8 hex digits. */
const hex32 = (n: number) =>
  byteHex[(n >>> 24) & 0xff]! + byteHex[(n >>> 16) & 0xff]! + byteHex[(n >>> 8) & 0xff]! + byteHex[n & 0xff]!;

/** A UUIDv7-shaped id from a millisecond time and a sequence number (unique per sequence number < 2^32). */
function uuid7(ms: number, seq: number): string {
  const high = Math.floor(ms / 0x10000); // top 32 bits of the 48-bit time
  const low = ms % 0x10000;
  const s = hex32(seq);
  const mix = hex32(Math.imul(seq, 2654435761) >>> 0);
  return `${hex32(high)}-${byteHex[low >>> 8]}${byteHex[low & 0xff]}-7${s.slice(1, 4)}-8${s.slice(4, 7)}-${s.slice(7)}${mix}000`;
}

/** Batches of synthetic event rows, `batchSize` rows each (the last may be shorter). */
export function* syntheticEventBatches(options: SyntheticOptions): Generator<EventRow[]> {
  const { servers, days, end, seed } = { ...syntheticDefaults, ...options };
  const random = prng(seed);
  const endSeconds = Math.floor(end.getTime() / 1000);
  const span = days * 86_400;
  // Server 0 gets ~1/3 of the mail, the rest share the remainder.
  const serverWeights = Array.from({ length: servers }, (_, i) => (i === 0 ? 1 / 3 : 2 / 3 / Math.max(1, servers - 1)));
  const sendingDomains = Array.from({ length: servers }, (_, i) => [
    `mail${i}.sender.example`,
    `news${i}.sender.example`,
  ]);

  let produced = 0;
  let seq = 0;
  let messageNo = 0;
  let batch: EventRow[] = [];
  const push = (row: EventRow): EventRow[] | undefined => {
    batch.push(row);
    produced++;
    if (batch.length >= options.batchSize) {
      const full = batch;
      batch = [];
      return full;
    }
    return undefined;
  };

  while (produced < options.events) {
    const server = weighted(random, serverWeights);
    const provider = providers[weighted(random, providerWeights)]!;
    const domains = recipientDomains[provider]!;
    const message: MessageDims = {
      server_id: syntheticServerId(server),
      message_id: `msg-${(messageNo++).toString(36).padStart(8, '0')}`,
      recipient_domain: domains[Math.floor(random() * domains.length)]!,
      mailbox_provider: provider,
      sending_domain: sendingDomains[server]![random() < 0.7 ? 0 : 1]!,
      tag: tags[Math.floor(random() * tags.length)]!,
      accepted: endSeconds - span + Math.floor(random() * span),
    };
    const accepted = message.accepted;
    const sendingIp = sendingIps[server % sendingIps.length]!;
    // Rows are built by one function with every field in the same order: one object shape, so V8
    // keeps this loop fast (the generator must not be what the benchmark measures).
    const emit = (
      type: string,
      at: number,
      ip: string,
      smtpCode: number,
      enhancedCode: string,
      attempt: number,
      bounce: string,
      url: string,
      machine: 0 | 1,
    ) => {
      if (produced >= options.events) return undefined;
      return push({
        event_id: uuid7(at * 1000, seq),
        position: seq++,
        event_type: type,
        event_time: at,
        server_id: message.server_id,
        message_id: message.message_id,
        recipient_domain: message.recipient_domain,
        mailbox_provider: message.mailbox_provider,
        sending_domain: message.sending_domain,
        tag: message.tag,
        ip,
        bounce_classification: bounce,
        url,
        machine,
        smtp_code: smtpCode,
        enhanced_code: enhancedCode,
        attempt,
        seconds_since_accepted: at - accepted,
      });
    };
    const full: (EventRow[] | undefined)[] = [];
    full.push(emit('MessageAccepted', accepted, '', 0, '', 0, '', '', 0));
    full.push(emit('MessageQueued', accepted, '', 0, '', 0, '', '', 0));
    const outcome = random();
    if (outcome < 0.04) {
      full.push(
        emit(
          'MessageBounced',
          accepted + 1 + Math.floor(random() * 30),
          sendingIp,
          550,
          '5.1.1',
          1,
          bounceClasses[Math.floor(random() * bounceClasses.length)]!,
          '',
          0,
        ),
      );
    } else {
      let attempt = 1;
      if (outcome < 0.08) {
        full.push(emit('MessageDeferred', accepted + 2, sendingIp, 451, '4.7.1', attempt, '', '', 0));
        attempt++;
      }
      const deliveredAt = accepted + (attempt === 1 ? 1 + Math.floor(random() * 20) : 300 + Math.floor(random() * 600));
      full.push(emit('MessageDelivered', deliveredAt, sendingIp, 250, '2.0.0', attempt, '', '', 0));
      if (random() < 0.35) {
        const opens = 1 + Math.floor(random() * 3);
        for (let i = 0; i < opens; i++) {
          const machine = random() < 0.12 ? 1 : 0;
          full.push(
            emit(
              'MessageOpened',
              deliveredAt + (machine ? 2 : 60 + Math.floor(random() * 172_800)),
              sendingIp,
              0,
              '',
              0,
              '',
              '',
              machine,
            ),
          );
        }
      }
      if (random() < 0.1) {
        const clicks = 1 + Math.floor(random() * 2);
        for (let i = 0; i < clicks; i++) {
          full.push(
            emit(
              'MessageLinkClicked',
              deliveredAt + 120 + Math.floor(random() * 172_800),
              sendingIp,
              0,
              '',
              0,
              '',
              urls[Math.floor(random() * urls.length)]!,
              random() < 0.05 ? 1 : 0,
            ),
          );
        }
      }
      if (random() < 0.005)
        full.push(
          emit(
            'MessageUnsubscribed',
            deliveredAt + 3600 + Math.floor(random() * 86_400),
            sendingIp,
            0,
            '',
            0,
            '',
            '',
            0,
          ),
        );
      if (random() < 0.001)
        full.push(
          emit('MessageComplained', deliveredAt + 7200 + Math.floor(random() * 86_400), '', 0, '', 0, '', '', 0),
        );
    }
    for (const b of full) if (b) yield b;
  }
  if (batch.length > 0) yield batch;
}
