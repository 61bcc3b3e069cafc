import type pg from 'pg';
import { messageStreamId } from '../../domain/index.js';
import { keepsBody, plannedMessage, postalMessageKey, type PostalMessage } from '../../domain/postal-import/index.js';
import type { ContentStore } from '../../infra/content/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { MessageIdAllocator } from '../../infra/messages/index.js';
import { PostalImportMap } from '../../infra/postal-import/import-map.js';
import type { PostalMessageReader } from '../../infra/postal-import/postal-messages.js';
import { handleMessageCommand } from '../message-command-handler.js';

/** A Postal server whose history is imported, and what it became in Postlog. */
export interface HistoryServer {
  postalId: number;
  /** undefined: not imported (a dry run before the first import, or its creation failed). */
  postlogId: string | undefined;
  label: string;
  retentionDays: number;
}

export interface HistoryReport {
  /** Messages recorded by this run (would be, in a dry run). */
  imported: number;
  /** Messages an earlier run recorded. */
  existing: number;
  /** Of the imported ones, those whose body came along (would, in a dry run: Postal says it holds it). */
  withBody: number;
  /** Messages that could not be recorded, with why. */
  failed: { what: string; message: string }[];
  /** Servers whose message database could not be read (Postal makes it with the server's first message). */
  unread: { server: string; reason: string }[];
}

export interface HistoryDeps {
  pool: pg.Pool;
  eventStore: EventStore;
  contents: ContentStore;
  ids: MessageIdAllocator;
  reader: PostalMessageReader;
}

const actor = 'cli:import-postal';

/**
 * `postlog import postal --messages-days N`: each Postal message of the last N days becomes one
 * MessageImported event (domain/postal-import/message-plan.ts), its body stored when Postal still
 * holds it within the server's retention. Nothing is sent. Each message gets its Postlog id
 * through the import's map before its event is appended, so a rerun, or a run after one that
 * stopped half-way, records each message once (an id mapped but never appended is appended then).
 */
export async function importMessageHistory(
  deps: HistoryDeps,
  servers: HistoryServer[],
  options: { since: Date; now: Date; dryRun: boolean },
): Promise<HistoryReport> {
  const map = new PostalImportMap(deps.pool);
  const report: HistoryReport = { imported: 0, existing: 0, withBody: 0, failed: [], unread: [] };
  for (const server of servers) {
    if (!server.postlogId && !options.dryRun) continue; // the server's own failure is reported already
    const unreadable = await deps.reader.unreadable(server.postalId);
    if (unreadable) {
      report.unread.push({ server: server.label, reason: unreadable });
      continue;
    }
    for await (const batch of deps.reader.messages(server.postalId, options.since)) {
      const keys = batch.map((m) => postalMessageKey(server.postalId, m.id));
      const known = await map.getMany('message', keys);
      if (options.dryRun) {
        for (const m of batch) {
          if (known.has(postalMessageKey(server.postalId, m.id))) report.existing++;
          else {
            report.imported++;
            if (keepsBody(m, plannedMessage(m), options.now, server.retentionDays)) report.withBody++;
          }
        }
        continue;
      }
      const fresh = keys.filter((k) => !known.has(k));
      const ids = await deps.ids.take(fresh.length);
      await map.setMany(
        'message',
        fresh.map((k, i) => [k, String(ids[i])]),
      );
      // another run may have mapped some of them in between: its ids stand
      const mapped = fresh.length > 0 ? await map.getMany('message', keys) : known;
      for (const m of batch) {
        const key = postalMessageKey(server.postalId, m.id);
        const id = mapped.get(key)!;
        if (known.has(key) && (await deps.eventStore.readStream(messageStreamId(id), { limit: 1 })).length > 0) {
          report.existing++;
          continue;
        }
        await importOne(deps, server, m, id, options.now, report);
      }
    }
  }
  return report;
}

async function importOne(
  deps: HistoryDeps,
  server: HistoryServer,
  m: PostalMessage,
  id: string,
  now: Date,
  report: HistoryReport,
): Promise<void> {
  const planned = plannedMessage(m);
  const raw = keepsBody(m, planned, now, server.retentionDays)
    ? await deps.reader.raw(server.postalId, m.id)
    : undefined;
  // the body first: an event never names a body that is not stored
  const contentHash = raw ? await deps.contents.put(raw) : undefined;
  const result = await handleMessageCommand(
    deps.eventStore,
    id,
    {
      type: 'Import',
      message: {
        ...planned,
        messageId: id,
        serverId: server.postlogId!,
        ...(contentHash ? { contentHash, size: planned.size || raw!.length } : {}),
      },
      at: now.toISOString(),
    },
    { serverId: server.postlogId!, actor, correlationId: `postal-import-${postalMessageKey(server.postalId, m.id)}` },
  );
  if (result.ok) {
    report.imported++;
    if (contentHash) report.withBody++;
  } else if (result.error.code === 'MESSAGE_ALREADY_EXISTS') report.existing++;
  else
    report.failed.push({
      what: `message ${m.id} of ${server.label} (${planned.to})`,
      message: 'message' in result.error ? result.error.message : result.error.code,
    });
}
