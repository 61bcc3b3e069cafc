import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allMigrationStatements } from '../../infra/clickhouse/migrations.js';
import { literal, qualified, sql } from '../../infra/clickhouse/sql.js';
import { syntheticEventBatches } from '../../bench/synthetic-events.js';
import { checkDialect, checkQueriesOnCurrentClickHouse, chdbSkipReason } from '../helpers/chdb.js';
import { auditFunnelQuery, funnelQuery, timeSeriesQuery } from '../helpers/clickhouse-queries.js';
import { syntheticServerId } from '../../bench/synthetic-events.js';

/**
 * Our ClickHouse SQL runs on 18.16 in the other tests; here the same statements go through a
 * current ClickHouse (chdb) so nothing we write works only on the old server.
 */
describe('ClickHouse SQL is valid on current ClickHouse (chdb)', { skip: chdbSkipReason() }, () => {
  it('every migration statement runs, in order, on a fresh database', async () => {
    const report = await checkDialect({ setup: allMigrationStatements('postlog') });
    assert.deepEqual(report.failures, [], `chdb ${report.version} refused migration statements`);
  });

  it('the documented deduplicating report queries run against the schema with data', async () => {
    const [rows] = syntheticEventBatches({ events: 500, batchSize: 500, end: new Date('2026-11-01T00:00:00Z') });
    const scope = {
      database: 'postlog',
      serverIds: [syntheticServerId(0), syntheticServerId(1)],
      from: new Date('2026-10-01T00:00:00Z'),
      to: new Date('2026-11-02T00:00:00Z'),
    };
    const types = ['MessageAccepted', 'MessageDelivered', 'MessageOpened'];
    const queries = [
      funnelQuery(scope).text,
      funnelQuery({ ...scope, humanOnly: true }).text,
      timeSeriesQuery(scope, 'hour', types).text,
      timeSeriesQuery(scope, 'day', types).text,
      auditFunnelQuery(scope, types).text,
    ];
    const report = await checkQueriesOnCurrentClickHouse(queries, { rows: rows! });
    assert.deepEqual(report.failures, [], `chdb ${report.version} refused report queries`);
    assert.ok(
      report.queryRows.every((n) => n > 0),
      `every query returns rows: ${report.queryRows.join(',')}`,
    );
  });

  it('literals mean the same on current ClickHouse', async () => {
    const strings = [
      "'; DROP TABLE t; --",
      "\\'",
      '\\',
      '\0\n\r\t\x1b\x7f',
      'ünï 中文 😀',
      'lone \ud800',
      "\\'; DROP TABLE t; --",
    ];
    const values = [...strings, -5, 0.25, 2n ** 64n - 1n, null, new Date('2026-11-21T10:00:00Z'), ['a', "b'"]];
    const db = qualified('lit', 't').text;
    const report = await checkDialect({
      setup: [
        'CREATE DATABASE lit',
        `CREATE TABLE ${db} (i UInt32, s String) ENGINE = MergeTree() ORDER BY i`,
        sql`INSERT INTO ${qualified('lit', 't')} VALUES (1, ${"'; DROP TABLE t; --"})`.text,
      ],
      queries: [
        // toString for the 64-bit value: JSON numbers lose its precision
        ...values.map((v) =>
          typeof v === 'bigint' ? `SELECT toString(${literal(v)}) AS v` : `SELECT ${literal(v)} AS v`,
        ),
        sql`SELECT count() AS n FROM ${qualified('lit', 't')} WHERE s = ${"'; DROP TABLE t; --"} HAVING n = 1`.text,
        sql`SELECT 10-${-1} AS a HAVING a = 11`.text,
      ],
    });
    assert.deepEqual(report.failures, []);
    assert.ok(
      report.queryRows.every((n) => n === 1),
      `each query answers one row: ${report.queryRows.join(',')}`,
    );
    const echoed = report.queryOutputs.slice(0, strings.length).map((rows) => rows[0]!.v);
    assert.deepEqual(
      echoed,
      strings.map((s) => s.replace(/\p{Surrogate}/gu, '\ufffd')),
    );
    assert.deepEqual(
      report.queryOutputs.slice(strings.length, values.length).map((rows) => rows[0]!.v),
      [-5, 0.25, '18446744073709551615', null, '2026-11-21 10:00:00', ['a', "b'"]],
    );
  });

  it('reports statements current ClickHouse refuses (the check can fail)', async () => {
    const report = await checkDialect({
      setup: ['CREATE DATABASE old', 'CREATE TABLE old.t (d Date, x UInt8) ENGINE = MergeTree(d, (x), 8192)'],
      queries: ['SELECT nope FROM old.t'],
    });
    assert.equal(report.failures.length, 2);
    assert.match(report.failures[0]!.error, /MergeTree|deprecated|syntax/i);
  });
});
