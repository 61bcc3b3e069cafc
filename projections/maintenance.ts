import { createHash } from 'node:crypto';
import type pg from 'pg';
import {
  PostgresEventStore,
  START,
  compareCheckpoints,
  decodeCheckpoint,
  headPosition,
  matchesEventFilter,
  oldestWaitingSeconds,
  waitingMatching,
  type Checkpoint,
  type EventFilter,
  type EventStore,
} from '../infra/event-store/index.js';
import { quoteIdent } from '../infra/postgres/identifiers.js';
import {
  checkpointRows,
  lockCheckpoint,
  readCheckpoint,
  saveRebuiltCheckpoint,
  type CheckpointRow,
} from '../infra/read-models/index.js';
import type { PostgresProjection, TableNames } from './runner.js';

const shadowOf: TableNames = (t) => `${t}__shadow`;

/**
 * One rebuild or verify of a projection at a time (they share its shadow tables): an advisory lock
 * per projection, held on its own connection for the whole run.
 */
async function exclusively<T>(pool: pg.Pool, ps: PostgresProjection[], work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const keys = ps.map((p) =>
    createHash('sha256').update(`postlog-maintenance:${p.name}`).digest().readBigInt64BE(0).toString(),
  );
  const taken: string[] = [];
  try {
    for (const [i, key] of keys.entries()) {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
      if (!rows[0]?.ok) throw new Error(`a rebuild or verify of ${ps[i]!.name} is already running`);
      taken.push(key);
    }
    return await work();
  } finally {
    for (const key of taken) await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
    client.release();
  }
}

export interface ShadowBuild {
  checkpoint: Checkpoint;
  position: number | null;
  events: number;
  seconds: number;
}

/** Creates empty shadow copies of the projection's tables (structure, indexes, defaults, statistics targets, storage parameters). */
async function createShadows(pool: pg.Pool, p: PostgresProjection): Promise<void> {
  for (const table of p.tables) {
    await pool.query(`DROP TABLE IF EXISTS ${shadowOf(table)}`);
    await pool.query(`CREATE TABLE ${shadowOf(table)} (LIKE ${table} INCLUDING ALL)`);
    // LIKE leaves a column's statistics target behind, and the planner's choices may rest on it
    // (the message list's subject column, migration 20). Unset is NULL (PostgreSQL 17) or -1 (before).
    const { rows } = await pool.query<{ column: string; target: number }>(
      `SELECT attname AS column, attstattarget AS target FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0`,
      [table],
    );
    for (const r of rows)
      await pool.query(
        `ALTER TABLE ${shadowOf(table)} ALTER COLUMN ${quoteIdent(r.column)} SET STATISTICS ${Number(r.target)}`,
      );
    // and the table's storage parameters: the message list's table leaves room in its pages for HOT updates
    // (fillfactor, migration 48), which a copy without it would lose
    const { rows: options } = await pool.query<{ options: string[] | null }>(
      'SELECT reloptions AS options FROM pg_class WHERE oid = $1::regclass',
      [table],
    );
    const set = (options[0]?.options ?? []).map((o) => {
      const eq = o.indexOf('=');
      return `${quoteIdent(o.slice(0, eq))} = '${o.slice(eq + 1).replace(/'/g, "''")}'`;
    });
    if (set.length > 0) await pool.query(`ALTER TABLE ${shadowOf(table)} SET (${set.join(', ')})`);
  }
}

async function dropShadows(pool: pg.Pool | pg.PoolClient, p: PostgresProjection): Promise<void> {
  for (const table of p.tables) await pool.query(`DROP TABLE IF EXISTS ${shadowOf(table)}`);
}

/** Applies the projection to the shadow tables from `from` up to `until` (inclusive) or the head. */
async function feed(
  client: pg.ClientBase,
  store: EventStore,
  p: PostgresProjection,
  from: Checkpoint,
  until: Checkpoint | undefined,
  onBatch?: (n: number) => void,
): Promise<{ checkpoint: Checkpoint; events: number; position: number | null }> {
  let checkpoint = from;
  let total = 0;
  let position: number | null = null;
  for (;;) {
    const page = await store.readAll(checkpoint, 5000, p.filter);
    const events =
      until === undefined ? page.events : page.events.filter((e) => compareCheckpoints(e.checkpoint, until) <= 0);
    if (events.length === 0) return { checkpoint, events: total, position };
    await p.apply(client as pg.PoolClient, events, shadowOf);
    checkpoint = events[events.length - 1]!.checkpoint;
    position = events[events.length - 1]!.position;
    total += events.length;
    onBatch?.(total);
    if (events.length < page.events.length) return { checkpoint, events: total, position };
  }
}

/**
 * Builds the shadow tables of several projections in one pass over the log (no locks held: the
 * live projections keep running). Each page is read once and applied to every projection, each on
 * its own connection, in parallel.
 */
async function buildShadows(
  pool: pg.Pool,
  store: EventStore,
  ps: PostgresProjection[],
  onProgress?: (n: number) => void,
  until?: Checkpoint,
): Promise<Map<string, ShadowBuild>> {
  const started = performance.now();
  for (const p of ps) await createShadows(pool, p);
  const clients = await Promise.all(ps.map(() => pool.connect()));
  // one read serves all: the union of their filters (no filter if any projection takes everything)
  const prefixes = ps.every((p) => p.filter?.streamPrefixes?.length && !p.filter.types?.length)
    ? [...new Set(ps.flatMap((p) => p.filter!.streamPrefixes!))]
    : undefined;
  const progress = ps.map(() => ({ checkpoint: START as Checkpoint, position: null as number | null, events: 0 }));
  try {
    await Promise.all(clients.map((c) => c.query('BEGIN')));
    let checkpoint: Checkpoint = START;
    let read = 0;
    for (;;) {
      const page = await store.readAll(checkpoint, 5000, prefixes ? { streamPrefixes: prefixes } : undefined);
      const events =
        until === undefined ? page.events : page.events.filter((e) => compareCheckpoints(e.checkpoint, until) <= 0);
      if (events.length === 0) break;
      await Promise.all(
        ps.map(async (p, i) => {
          const mine = events.filter((e) => matchesEventFilter(e, p.filter));
          if (mine.length === 0) return;
          await p.apply(clients[i]!, mine, shadowOf);
          const last = mine[mine.length - 1]!;
          progress[i] = {
            checkpoint: last.checkpoint,
            position: last.position,
            events: progress[i]!.events + mine.length,
          };
        }),
      );
      checkpoint = events.length < page.events.length ? events[events.length - 1]!.checkpoint : page.checkpoint;
      read += events.length;
      onProgress?.(read);
      // commit now and then: one huge transaction leaves dead rows nobody may prune until its end
      if (read % 50_000 < events.length)
        await Promise.all(clients.map(async (c) => (await c.query('COMMIT'), await c.query('BEGIN'))));
      if (events.length < page.events.length) break;
    }
    await Promise.all(clients.map((c) => c.query('COMMIT')));
    const seconds = (performance.now() - started) / 1000;
    return new Map(ps.map((p, i) => [p.name, { ...progress[i]!, seconds }]));
  } catch (e) {
    await Promise.all(clients.map((c) => c.query('ROLLBACK').catch(() => undefined)));
    throw e;
  } finally {
    clients.forEach((c) => c.release());
  }
}

/**
 * Rebuilds projections without downtime: shadow copies are built from the log (one pass for all)
 * while the live ones keep serving; then, with a projection's live tables locked for a moment, its
 * shadow catches up to the live checkpoint and takes the live tables' names.
 */
export async function rebuildProjections(
  pool: pg.Pool,
  store: EventStore,
  ps: PostgresProjection[],
  onProgress?: (n: number) => void,
): Promise<Map<string, ShadowBuild>> {
  return exclusively(pool, ps, async () => {
    const builds = await buildShadows(pool, store, ps, onProgress);
    const out = new Map<string, ShadowBuild>();
    for (const p of ps) out.set(p.name, await swapIn(pool, store, p, builds.get(p.name)!));
    return out;
  });
}

export async function rebuildProjection(
  pool: pg.Pool,
  store: EventStore,
  p: PostgresProjection,
  onProgress?: (n: number) => void,
): Promise<ShadowBuild> {
  return (await rebuildProjections(pool, store, [p], onProgress)).get(p.name)!;
}

async function swapIn(
  pool: pg.Pool,
  store: EventStore,
  p: PostgresProjection,
  built: ShadowBuild,
): Promise<ShadowBuild> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const table of p.tables) await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const live = await lockCheckpoint(client, p.name);
    // catch up to where the live tables are (or to the head, if the projection never ran)
    const caught = await feed(client, store, p, built.checkpoint, live);
    // operational columns (the MTA's leases) are not in the log: they come over from the live table
    for (const [table, cols] of Object.entries(p.volatileColumns ?? {})) {
      const key = p.keys?.[table];
      if (!key || cols.length === 0) continue;
      await client.query(
        `UPDATE ${shadowOf(table)} s SET ${cols.map((c) => `${quoteIdent(c)} = l.${quoteIdent(c)}`).join(', ')} FROM ${table} l WHERE ${key
          .split(',')
          .map((k) => `s.${quoteIdent(k.trim())} = l.${quoteIdent(k.trim())}`)
          .join(' AND ')}`,
      );
    }
    for (const table of p.tables) {
      await client.query(`ALTER TABLE ${table} RENAME TO ${quoteIdent(`${table}__old`)}`);
      await client.query(`ALTER TABLE ${shadowOf(table)} RENAME TO ${quoteIdent(table)}`);
      await client.query(`DROP TABLE ${quoteIdent(`${table}__old`)}`);
    }
    const position = caught.position ?? built.position;
    await saveRebuiltCheckpoint(client, p.name, p.version, caught.checkpoint, position);
    await client.query('COMMIT');
    return { checkpoint: caught.checkpoint, position, events: built.events + caught.events, seconds: built.seconds };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    await dropShadows(pool, p).catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

export interface VerifyReport {
  projection: string;
  checkpoint: Checkpoint;
  events: number;
  seconds: number;
  tables: {
    table: string;
    liveRows: number;
    rebuiltRows: number;
    onlyInLive: number;
    onlyInRebuilt: number;
    samples: unknown[];
  }[];
  ok: boolean;
}

/** Rebuilds into a shadow and compares it with the live tables, row by row. */
export async function verifyProjection(pool: pg.Pool, store: EventStore, p: PostgresProjection): Promise<VerifyReport> {
  return exclusively(pool, [p], () => verifyNow(pool, store, p));
}

async function verifyNow(pool: pg.Pool, store: EventStore, p: PostgresProjection): Promise<VerifyReport> {
  const started = performance.now();
  // build only up to where the live projection is now: it only moves forward, so under the lock
  // below the shadow is at or behind it and catches up with a short feed (a lagging projection
  // no longer means a second full rebuild while its writers wait)
  const before = await readCheckpoint(pool, p.name);
  const built = (await buildShadows(pool, store, [p], undefined, before ?? START)).get(p.name)!;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // writers wait; readers go on
    for (const table of p.tables) await client.query(`LOCK TABLE ${table} IN SHARE MODE`);
    const live = (await readCheckpoint(client, p.name)) ?? START;
    let from = built.checkpoint;
    if (compareCheckpoints(built.checkpoint, live) > 0) {
      // the live projection lags behind the log: compare at its checkpoint, not at the head
      await p.reset(client, shadowOf);
      from = START;
    }
    const caught = await feed(client, store, p, from, live);
    const tables: VerifyReport['tables'] = [];
    for (const table of p.tables) {
      const cols = (
        await client.query<{ column_name: string }>(
          'SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
          [table],
        )
      ).rows
        .map((r) => r.column_name)
        .filter((c) => !(p.volatileColumns?.[table] ?? []).includes(c));
      const list = cols.map(quoteIdent).join(', ');
      const diff = async (a: string, b: string) => {
        const r = await client.query(`SELECT ${list} FROM ${a} EXCEPT ALL SELECT ${list} FROM ${b}`);
        return r.rows;
      };
      const onlyLive = await diff(table, shadowOf(table));
      const onlyRebuilt = await diff(shadowOf(table), table);
      const counts = await client.query<{ live: number; rebuilt: number }>(
        `SELECT (SELECT count(*)::int FROM ${table}) AS live, (SELECT count(*)::int FROM ${shadowOf(table)}) AS rebuilt`,
      );
      tables.push({
        table,
        liveRows: counts.rows[0]!.live,
        rebuiltRows: counts.rows[0]!.rebuilt,
        onlyInLive: onlyLive.length,
        onlyInRebuilt: onlyRebuilt.length,
        samples: [
          ...onlyLive.slice(0, 3).map((r) => ({ live: r })),
          ...onlyRebuilt.slice(0, 3).map((r) => ({ rebuilt: r })),
        ],
      });
    }
    await client.query('ROLLBACK');
    return {
      projection: p.name,
      checkpoint: caught.checkpoint,
      events: from === START ? caught.events : built.events + caught.events,
      seconds: (performance.now() - started) / 1000,
      tables,
      ok: tables.every((t) => t.onlyInLive === 0 && t.onlyInRebuilt === 0),
    };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
    await dropShadows(pool, p).catch(() => undefined);
  }
}

export interface ProjectionStatus {
  name: string;
  version: number | null;
  checkpoint: string | null;
  position: number | null;
  headPosition: number | null;
  lagEvents: number | null;
  /** How long the oldest event the projection has not applied yet has been waiting. */
  lagSeconds: number;
  updatedAt: string | null;
  lastError: string | null;
  errorAt: string | null;
}

/** Lag beyond this many events is reported as this many when the log is not in Postgres (it is counted, not subtracted). */
export const LAG_COUNT_LIMIT = 1000;

/**
 * Checkpoints, lag and the last error of every projection. With the log in Postgres (no store
 * given, or the Postgres store) lag is the difference of global positions, read with SQL. With
 * another log (EventStoreDB, whose positions are byte offsets) it goes through the port: the
 * events after the checkpoint are counted up to LAG_COUNT_LIMIT.
 */
export async function projectionStatus(
  pool: pg.Pool,
  names: string[],
  store?: EventStore,
  filters: Record<string, EventFilter | undefined> = {},
): Promise<ProjectionStatus[]> {
  if (store && !(store instanceof PostgresEventStore)) return projectionStatusThroughPort(pool, names, store, filters);
  const head = await headPosition(pool);
  const rows = await checkpointRows(pool);
  const out: ProjectionStatus[] = [];
  for (const name of names) {
    const r = rows.get(name);
    // "after the checkpoint" in the order subscribers read: (transaction, position). Positions are
    // handed out before commit, so an event not applied yet can have a lower position than the
    // checkpoint's (a later transaction took its position first)
    const after = decodeCheckpoint(r?.checkpoint ?? START);
    const filter = filters[name];
    if (filter?.types?.length || filter?.streamPrefixes?.length) {
      // a projection of some event types or streams stops its checkpoint at the last one it took:
      // the events it does not take after it are not lag (they would keep the lag above zero on a
      // quiet system, and the inbound endpoint queue, which takes incoming- streams only, seemed
      // to fall behind by every outgoing message while no mail came in)
      const lag = await waitingMatching(pool, after, filter, LAG_COUNT_LIMIT);
      out.push(statusRow(name, r, head, lag?.n ?? 0, lag?.s ?? 0));
      continue;
    }
    const waiting = (await oldestWaitingSeconds(pool, after)) ?? 0;
    out.push(statusRow(name, r, head, head === null ? 0 : Math.max(0, head - (r?.position ?? 0)), waiting));
  }
  return out;
}

async function projectionStatusThroughPort(
  pool: pg.Pool,
  names: string[],
  store: EventStore,
  filters: Record<string, EventFilter | undefined>,
): Promise<ProjectionStatus[]> {
  const rows = await checkpointRows(pool);
  const out: ProjectionStatus[] = [];
  for (const name of names) {
    const r = rows.get(name);
    const after = await store.readAll(r?.checkpoint ?? START, LAG_COUNT_LIMIT, filters[name]);
    const oldest = after.events[0];
    const waiting = oldest ? (Date.now() - oldest.recordedAt.getTime()) / 1000 : 0;
    // the head is known only when everything after the checkpoint fitted in one read
    const head =
      after.events.length < LAG_COUNT_LIMIT
        ? (after.events[after.events.length - 1]?.position ?? r?.position ?? null)
        : null;
    out.push(statusRow(name, r, head, after.events.length, waiting));
  }
  return out;
}

function statusRow(
  name: string,
  r: CheckpointRow | undefined,
  head: number | null,
  lagEvents: number,
  waiting: number,
): ProjectionStatus {
  return {
    name,
    version: r?.version ?? null,
    checkpoint: r?.checkpoint ?? null,
    position: r?.position ?? null,
    headPosition: head,
    lagEvents,
    lagSeconds: Math.max(0, Math.round(waiting * 1000) / 1000),
    updatedAt: r?.updated_at ? r.updated_at.toISOString() : null,
    lastError: r?.last_error ?? null,
    errorAt: r?.error_at ? r.error_at.toISOString() : null,
  };
}

/** How far (seconds) each named projection is behind the log: what retention waits for. */
export function projectionLagSeconds(pool: pg.Pool, store: EventStore): (names: string[]) => Promise<number[]> {
  return async (names) => (await projectionStatus(pool, names, store)).map((s) => s.lagSeconds);
}
