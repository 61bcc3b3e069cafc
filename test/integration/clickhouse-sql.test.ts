import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { createClickHouse, type ClickHouse } from '../../infra/clickhouse/client.js';
import { identifier, literal, sql, type SqlValue } from '../../infra/clickhouse/sql.js';
import { clickhouseSkipReason, startClickHouse, type ClickHouseServer } from '../helpers/clickhouse.js';

/** What the value is after it went through UTF-8: lone surrogates become U+FFFD. */
const wellFormed = (s: string) => s.replace(/\p{Surrogate}/gu, '\ufffd');

const everyAsciiByte = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('');
const hostile: string[] = [
  '',
  "'",
  "''",
  "'''",
  '\\',
  '\\\\',
  "\\'",
  "'\\",
  "\\\\'",
  'ends with a backslash\\',
  '\0',
  '\x00abc\x00',
  '\0'.repeat(100),
  'line\nbreak\r\nand\ttab',
  '\b\f\v\x07',
  '\x1b[31mred\x1b[0m',
  '\x7f',
  "'; DROP TABLE victim; --",
  "'); DROP TABLE victim; --",
  "\\'; DROP TABLE victim; --",
  "\\\\'; DROP TABLE victim; SELECT '",
  "x' OR '1'='1",
  '`; DROP TABLE victim; --',
  '" OR ""="',
  '/* comment */ -- comment',
  '{p:String} $1 ? :name',
  '\\x27; DROP TABLE victim; --',
  '\\0\\n\\t\\\\',
  'ünïcödé 中文 العربية עברית 😀 👩‍👩‍👧',
  '\u2028\u2029\ufeff\u200b',
  '\ud800',
  'a\udc00b',
  'tail high surrogate \ud83d',
  '\ud83d\ude00 pair',
  everyAsciiByte,
  `${everyAsciiByte}'\\😀\ud800`.repeat(400), // ~55 KB, ~100 KB escaped
];
/** Longer than a SELECT may be (max_query_size, 256 KiB): INSERT … VALUES streams its data, so it still works there. */
const huge = `${everyAsciiByte}'\\😀\ud800`.repeat(4000); // ~530 KB

describe('ClickHouse literals on a real server (18.16)', { skip: clickhouseSkipReason() }, () => {
  let server: ClickHouseServer;
  let ch: ClickHouse;

  before(async () => {
    server = await startClickHouse();
    ch = createClickHouse({ url: server.url, database: 'literals' });
    await ch.command('CREATE DATABASE literals');
    await ch.command(sql`CREATE TABLE ${ch.table('strings')} (i UInt32, s String) ENGINE = MergeTree() ORDER BY i`);
    await ch.command(sql`CREATE TABLE ${ch.table('victim')} (x UInt8) ENGINE = MergeTree() ORDER BY x`);
    await ch.command(sql`INSERT INTO ${ch.table('victim')} VALUES (1)`);
  });
  after(async () => {
    await ch?.close();
    await server?.stop();
  });

  it('every hostile string inserted as a literal reads back equal, and compares equal', async () => {
    for (const [i, s] of hostile.entries()) {
      await ch.command(sql`INSERT INTO ${ch.table('strings')} VALUES (${i}, ${s})`);
    }
    await ch.command(sql`INSERT INTO ${ch.table('strings')} VALUES (${hostile.length}, ${huge})`);
    const rows = await ch.query(
      sql`SELECT i, s FROM ${ch.table('strings')} ORDER BY i`,
      z.object({ i: z.number(), s: z.string() }),
    );
    assert.equal(rows.length, hostile.length + 1);
    assert.equal(rows[hostile.length]!.s, wellFormed(huge));
    // …and a SELECT with it fails loudly (too large to parse) instead of running anything
    await assert.rejects(ch.query(sql`SELECT ${huge} AS s`), (e: { code?: number }) => e.code === 62);
    for (const [i, s] of hostile.entries()) {
      assert.equal(rows[i]!.s, wellFormed(s), `string #${i} read back differently`);
      const [match] = await ch.query(
        sql`SELECT count() AS n FROM ${ch.table('strings')} WHERE s = ${s}`,
        z.object({ n: z.number() }),
      );
      assert.ok(match!.n >= 1, `string #${i} does not compare equal to its literal`);
      const [echo] = await ch.query(sql`SELECT ${s} AS s`, z.object({ s: z.string() }));
      assert.equal(echo!.s, wellFormed(s), `string #${i} selected as a literal came back differently`);
    }
  });

  it('every hostile string inserted as a JSONEachRow row reads back equal', async () => {
    await ch.command(sql`CREATE TABLE ${ch.table('rows')} (i UInt32, s String) ENGINE = MergeTree() ORDER BY i`);
    const all = [...hostile, huge];
    await ch.insert(
      'rows',
      all.map((s, i) => ({ i, s })),
    );
    const rows = await ch.query(
      sql`SELECT i, s FROM ${ch.table('rows')} ORDER BY i`,
      z.object({ i: z.number(), s: z.string() }),
    );
    assert.deepEqual(
      rows.map((r) => r.s),
      all.map(wellFormed),
    );
  });

  it('every hostile string inserted as RowBinary reads back equal', async () => {
    await ch.command(
      sql`CREATE TABLE ${ch.table('binary')} (i UInt32, s String, u UUID, big UInt64) ENGINE = MergeTree() ORDER BY i`,
    );
    // …and the lengths where the length prefix grows a byte (127/128 bytes, 16383/16384), ASCII and not
    const lengths = [
      'a'.repeat(127),
      'a'.repeat(128),
      `${'é'.repeat(63)}a`,
      'é'.repeat(64),
      'x'.repeat(16383),
      'x'.repeat(16384),
      '中'.repeat(5462),
    ];
    const all = [...hostile, huge, ...lengths];
    const rows = all.map((s, i) => ({
      i,
      s,
      u: `0123456${i % 10}-89ab-7def-8123-456789abcdef`,
      big: i === 0 ? '18446744073709551615' : i * 2 ** 40,
    }));
    const columns = [
      { name: 'i', type: 'UInt32' },
      { name: 's', type: 'String' },
      { name: 'u', type: 'UUID' },
      { name: 'big', type: 'UInt64' },
    ] as const;
    await ch.insertBinary('binary', columns, rows);
    const back = await ch.query(
      sql`SELECT i, s, toString(u) AS u, toString(big) AS big FROM ${ch.table('binary')} ORDER BY i`,
      z.object({ i: z.number(), s: z.string(), u: z.string(), big: z.string() }),
    );
    assert.deepEqual(
      back,
      rows.map((r) => ({ ...r, s: wellFormed(r.s), big: String(r.big) })),
    );
    // values a column cannot hold are refused before anything is sent
    for (const bad of [{ i: -1 }, { i: 2 ** 32 }, { i: 1.5 }, { u: 'not-a-uuid' }, { big: -1 }, { s: 5 }]) {
      await assert.rejects(ch.insertBinary('binary', columns, [{ ...rows[1]!, ...bad }]), /cannot hold/);
    }
  });

  it('nothing but the intended statements ran', async () => {
    const tables = await ch.query(
      sql`SELECT name FROM system.tables WHERE database = ${'literals'} ORDER BY name`,
      z.object({ name: z.string() }),
    );
    assert.deepEqual(
      tables.map((t) => t.name).filter((n) => n !== 'rows' && n !== 'binary'),
      ['strings', 'victim'],
    );
    const [victim] = await ch.query(sql`SELECT count() AS n FROM ${ch.table('victim')}`, z.object({ n: z.number() }));
    assert.equal(victim!.n, 1);
    const [strings] = await ch.query(sql`SELECT count() AS n FROM ${ch.table('strings')}`, z.object({ n: z.number() }));
    assert.equal(strings!.n, hostile.length + 1);
  });

  it('numbers, booleans, null, dates and arrays mean on the server what they meant here', async () => {
    const values: [SqlValue, string][] = [
      [0, '0'],
      [-5, '-5'],
      [42, '42'],
      [0.25, '0.25'],
      [-1.5, '-1.5'],
      [Number.MAX_SAFE_INTEGER, String(Number.MAX_SAFE_INTEGER)],
      [2n ** 64n - 1n, '18446744073709551615'],
      [-(2n ** 63n), '-9223372036854775808'],
      [true, '1'],
      [false, '0'],
      [null, '\\N'],
      [new Date('2026-11-21T10:00:00Z'), '2026-11-21 10:00:00'],
      [['a', "b'", '\\', '\0'], "['a','b\\'','\\\\','\\0']"],
      [[1, -2, 3], '[1,-2,3]'],
    ];
    for (const [value, text] of values) {
      // TSV output, so the server's own text for the value is compared (timezone pinned to UTC by the helper)
      const res = await fetch(`${server.url}/`, { method: 'POST', body: `SELECT ${literal(value)} FORMAT TSV` });
      assert.equal((await res.text()).trimEnd(), text, `literal(${String(value)})`);
    }
    // Unparenthesised, "10-${-1}" would be "10--1": 10 followed by a comment.
    const [arith] = await ch.query(sql`SELECT 10-${-1} AS a`, z.object({ a: z.number() }));
    assert.deepEqual(arith, { a: 11 });
  });

  it('hostile identifiers name real tables and columns', async () => {
    const names = ['a`b', 'x`; DROP TABLE victim; --', "it's", 'back\\slash', 'ünï 中文', 'with space', 'select'];
    const columns = names.map((n, i) => sql`${identifier(n)} UInt8 DEFAULT ${i}`.text).join(', ');
    await ch.command(
      `CREATE TABLE ${ch.table('x`; DROP TABLE victim; --').text} (id UInt8, ${columns}) ENGINE = MergeTree() ORDER BY id`,
    );
    await ch.command(sql`INSERT INTO ${ch.table('x`; DROP TABLE victim; --')} (id) VALUES (1)`);
    const got = await ch.query(
      sql`DESCRIBE TABLE ${ch.table('x`; DROP TABLE victim; --')}`,
      z.object({ name: z.string() }),
    );
    assert.deepEqual(
      got.map((c) => c.name),
      ['id', ...names],
    );
    const [row] = await ch.query(
      `SELECT ${names.map((n) => identifier(n).text).join(', ')} FROM ${ch.table('x`; DROP TABLE victim; --').text}`,
    );
    assert.deepEqual(
      Object.values(row!),
      names.map((_, i) => i),
    );
    const [victim] = await ch.query(sql`SELECT count() AS n FROM ${ch.table('victim')}`, z.object({ n: z.number() }));
    assert.equal(victim!.n, 1);
  });
});
