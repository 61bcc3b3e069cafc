import mysql from 'mysql2/promise';
import { PostalMessage } from '../../domain/postal-import/index.js';
import { PostalUnreadable, redacted, type PostalSource } from './postal-database.js';

type Row = Record<string, unknown>;

/** Messages read per query: a batch's deliveries, loads and clicks are read with one query each. */
const BATCH = 500;

/**
 * Reads the message history of Postal's servers (each server's message database) for
 * `postlog import postal --messages-days`: the messages since a time, in id order, a batch at a
 * time, with their deliveries and how often they were opened and clicked; a message's raw bytes
 * on demand. Read-only, like the rest of the import.
 */
export class PostalMessageReader {
  private constructor(
    private readonly db: mysql.Connection,
    private readonly source: PostalSource,
  ) {}

  static async open(source: PostalSource): Promise<PostalMessageReader> {
    try {
      // Rails keeps datetimes in UTC; the message databases keep decimal seconds since 1970
      const db = await mysql.createConnection({ uri: source.url, timezone: 'Z', connectTimeout: 10_000 });
      return new PostalMessageReader(db, source);
    } catch (e) {
      throw new PostalUnreadable(`cannot connect to ${redacted(source.url)}: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.db.end().catch(() => undefined);
  }

  private table(serverId: number, table: string): string {
    return `${mysql.escapeId(`${this.source.messageDbPrefix}-server-${serverId}`)}.${mysql.escapeId(table)}`;
  }

  /** Why the server's message history cannot be read (its tables are missing), or undefined when it can. */
  async unreadable(serverId: number): Promise<string | undefined> {
    try {
      for (const table of ['messages', 'deliveries', 'loads', 'clicks'])
        await this.db.query(`SELECT 1 FROM ${this.table(serverId, table)} LIMIT 0`);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** The server's messages since `since`, oldest first, a batch at a time. */
  async *messages(serverId: number, since: Date): AsyncGenerator<PostalMessage[]> {
    let after = 0;
    for (;;) {
      const [found] = await this.db.query(
        `SELECT id, scope, rcpt_to, mail_from, subject, message_id, token, timestamp, status, held, size, tag,
                spam_score, raw_table IS NOT NULL AND raw_headers_id IS NOT NULL AND raw_body_id IS NOT NULL AS has_raw
           FROM ${this.table(serverId, 'messages')}
          WHERE timestamp >= ? AND id > ? ORDER BY id LIMIT ?`,
        [since.getTime() / 1000, after, BATCH],
      );
      const rows = found as Row[];
      if (rows.length === 0) return;
      after = Number(rows[rows.length - 1]!.id);
      const ids = rows.map((r) => Number(r.id));
      const [deliveries] = await this.db.query(
        `SELECT message_id, status, code, output, details, sent_with_ssl, time, timestamp
           FROM ${this.table(serverId, 'deliveries')} WHERE message_id IN (?) ORDER BY id`,
        [ids],
      );
      const counts = async (table: string) => {
        const [n] = await this.db.query(
          `SELECT message_id, count(*) AS n FROM ${this.table(serverId, table)} WHERE message_id IN (?) GROUP BY message_id`,
          [ids],
        );
        return new Map((n as Row[]).map((r) => [Number(r.message_id), Number(r.n)]));
      };
      const loads = await counts('loads');
      const clicks = await counts('clicks');
      const byMessage = new Map<number, Row[]>();
      for (const d of deliveries as Row[]) {
        const list = byMessage.get(Number(d.message_id)) ?? [];
        list.push(d);
        byMessage.set(Number(d.message_id), list);
      }
      const batch = rows.map((r) =>
        PostalMessage.safeParse({
          ...camel(r),
          serverId,
          deliveries: (byMessage.get(Number(r.id)) ?? []).map(camel),
          loads: loads.get(Number(r.id)) ?? 0,
          clicks: clicks.get(Number(r.id)) ?? 0,
        }),
      );
      const bad = batch.find((b) => !b.success);
      if (bad && !bad.success)
        throw new PostalUnreadable(
          `a message of Postal server ${serverId} cannot be read: ` +
            bad.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        );
      yield batch.map((b) => b.data!);
    }
  }

  /** A message's raw bytes as Postal keeps them (headers and body in its day's raw table); undefined: gone. */
  async raw(serverId: number, messageId: number): Promise<Buffer | undefined> {
    const [found] = await this.db.query(
      `SELECT raw_table, raw_headers_id, raw_body_id FROM ${this.table(serverId, 'messages')} WHERE id = ?`,
      [messageId],
    );
    const m = (found as Row[])[0];
    if (!m?.raw_table) return undefined;
    try {
      const [parts] = await this.db.query(
        `SELECT id, data FROM ${this.table(serverId, String(m.raw_table))} WHERE id IN (?, ?)`,
        [m.raw_headers_id, m.raw_body_id],
      );
      const data = new Map((parts as Row[]).map((p) => [Number(p.id), p.data as Buffer | null]));
      const headers = data.get(Number(m.raw_headers_id));
      const body = data.get(Number(m.raw_body_id));
      if (!headers || body === undefined) return undefined;
      return Buffer.concat([headers, Buffer.from('\r\n\r\n'), body ?? Buffer.alloc(0)]);
    } catch {
      // the day's raw table was removed by Postal's retention since the message row was read
      return undefined;
    }
  }
}

/** snake_case columns as camelCase keys. */
function camel(r: Row): Row {
  return Object.fromEntries(
    Object.entries(r).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), v]),
  );
}
