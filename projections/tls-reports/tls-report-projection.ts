import { messageEventCodec, type DeliveryAttempt } from '../../domain/index.js';
import {
  addTlsReportCounts,
  emptyTlsReportCounts,
  TLS_REPORT_COUNTS,
  type TlsReportCount,
} from '../../infra/tls-reports/index.js';
import type { PostgresProjection } from '../runner.js';

/**
 * TLS-RPT (RFC 8460) counts from the delivery attempts' `tlsPolicy`: per policy domain (the
 * recipient domain), UTC day and policy (MTA-STS as `sts`, DANE as `tlsa`), a success for an attempt that went over TLS with nothing
 * wrong, a failure (by result type) for one whose TLS or MTA-STS policy failed. An attempt in plain
 * text without a policy, or one that never reached a server, is neither. Counts are attempts, not
 * connections: a connection carries many messages, and each attempt's event stands alone.
 */
export const tlsReportProjection: PostgresProjection = {
  name: 'tls-reports',
  version: 1,
  filter: { streamPrefixes: ['message-'] },
  tables: [TLS_REPORT_COUNTS],
  async reset(client, t) {
    await emptyTlsReportCounts(client, t(TLS_REPORT_COUNTS));
  },
  async apply(client, events, t) {
    const counts = new Map<string, TlsReportCount>();
    for (const r of events) {
      if (r.type !== 'MessageDelivered' && r.type !== 'MessageDeferred' && r.type !== 'MessageBounced') continue;
      const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
      const delivery = 'delivery' in decoded.value.data ? decoded.value.data.delivery : undefined;
      const counted = delivery && tlsOutcome(delivery);
      if (!counted) continue;
      const policy = delivery.tlsPolicy!;
      const row: Omit<TlsReportCount, 'successes' | 'failures' | 'failureTypes'> = {
        policyDomain: policy.domain.toLowerCase(),
        day: delivery.at.slice(0, 10),
        policyType: policy.policy === 'mta-sts' ? 'sts' : policy.policy === 'dane' ? 'tlsa' : 'no-policy-found',
        policyId: policy.policyId ?? '',
        mode: policy.mode ?? '',
      };
      const key = [row.policyDomain, row.day, row.policyType, row.policyId, row.mode].join('|');
      const c = counts.get(key) ?? { ...row, successes: 0, failures: 0, failureTypes: {} };
      counts.set(key, c);
      if (counted === 'success') c.successes++;
      else {
        c.failures++;
        c.failureTypes[counted] = (c.failureTypes[counted] ?? 0) + 1;
      }
    }
    await addTlsReportCounts(client, t(TLS_REPORT_COUNTS), [...counts.values()]);
  },
};

/** What an attempt counts as: a success, a failure of a result type, or nothing (see above). */
function tlsOutcome(d: DeliveryAttempt): 'success' | string | undefined {
  if (!d.tlsPolicy) return undefined;
  if (d.tlsPolicy.failure) return d.tlsPolicy.failure.type;
  return d.tls ? 'success' : undefined;
}
