import { BLOCKLIST_STREAM_PREFIX, blocklistEventCodec } from '../../domain/index.js';
import { BLOCKLIST_STATUS, emptyBlocklistStatus, putBlocklistStatus } from '../../infra/blocklists/index.js';
import type { PostgresProjection } from '../runner.js';

/** The current state of each (target, list) whose state changed: GET /v2/deliverability/blocklists and the metric. */
export const blocklistProjection: PostgresProjection = {
  name: 'blocklists',
  version: 1,
  filter: { streamPrefixes: [BLOCKLIST_STREAM_PREFIX] },
  tables: [BLOCKLIST_STATUS],
  async reset(client, t) {
    await emptyBlocklistStatus(client, t(BLOCKLIST_STATUS));
  },
  async apply(client, events, t) {
    for (const r of events) {
      const decoded = blocklistEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
      const e = decoded.value;
      await putBlocklistStatus(client, t(BLOCKLIST_STATUS), e.data, e.type.endsWith('Listed'));
    }
  },
};
