import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  identifier,
  join,
  literal,
  qualified,
  raw,
  sql,
  SqlValueError,
  unixSeconds,
} from '../../infra/clickhouse/sql.js';

// The server round trip of every hostile value is in test/integration/clickhouse-sql.test.ts;
// these pin the exact text, so a change to the escaping is a deliberate one.
describe('ClickHouse literals (text)', () => {
  it('quotes strings and escapes backslash, quote and every control character', () => {
    assert.equal(literal(''), "''");
    assert.equal(literal("it's"), "'it\\'s'");
    assert.equal(literal('a\\'), "'a\\\\'");
    assert.equal(literal("\\'"), "'\\\\\\''");
    assert.equal(literal('\0\n\r\t\x1b\x7f'), "'\\x00\\x0a\\x0d\\x09\\x1b\\x7f'");
    assert.equal(literal('ünï 中文 😀'), "'ünï 中文 😀'");
    assert.equal(literal("'; DROP TABLE events; --"), "'\\'; DROP TABLE events; --'");
  });

  it('writes lone surrogates as U+FFFD and keeps surrogate pairs', () => {
    assert.equal(literal('a\ud800b'), "'a\ufffdb'");
    assert.equal(literal('\udc00'), "'\ufffd'");
    assert.equal(literal('\ud83d\ude00'), "'😀'");
  });

  it('writes finite numbers, parenthesises negatives, refuses NaN and infinities', () => {
    assert.equal(literal(42), '42');
    assert.equal(literal(-5), '(-5)');
    assert.equal(literal(-0), '0');
    assert.equal(literal(0.25), '0.25');
    assert.equal(literal(1e21), '1e+21');
    assert.equal(literal(-(2n ** 63n)), '(-9223372036854775808)');
    assert.equal(literal(2n ** 64n - 1n), '18446744073709551615');
    for (const bad of [NaN, Infinity, -Infinity]) assert.throws(() => literal(bad), SqlValueError);
  });

  it('writes booleans, null, dates and arrays; refuses anything else', () => {
    assert.equal(literal(true), '1');
    assert.equal(literal(false), '0');
    assert.equal(literal(null), 'NULL');
    assert.equal(literal(new Date('2026-11-21T10:00:00.999Z')), 'toDateTime(1795255200)');
    assert.equal(literal(['a', 1, null, ["b'"]]), "['a', 1, NULL, ['b\\'']]");
    assert.throws(() => literal(new Date('nope')), SqlValueError);
    assert.throws(() => literal(new Date('1969-12-31T23:59:59Z')), SqlValueError);
    assert.throws(() => literal(new Date('2106-02-07T06:28:16Z')), SqlValueError);
    assert.throws(() => literal(undefined as never), SqlValueError);
    assert.throws(() => literal({ a: 1 } as never), SqlValueError);
    assert.throws(() => literal(Symbol('x') as never), SqlValueError);
    assert.equal(unixSeconds(new Date('2106-02-07T06:28:15Z')), 2 ** 32 - 1);
  });

  it('quotes identifiers with backticks and refuses an empty one', () => {
    assert.equal(identifier('events').text, '`events`');
    assert.equal(identifier('a`b').text, '`a\\`b`');
    assert.equal(qualified('postlog', 'events').text, '`postlog`.`events`');
    assert.throws(() => identifier(''), SqlValueError);
  });

  it('sql`` writes values through literal() and fragments as they are', () => {
    const serverId = "srv'1";
    const q = sql`SELECT count() FROM ${qualified('db', 't')} WHERE server_id = ${serverId} AND n IN (${join([1, -2])}) ${raw('LIMIT 1')}`;
    assert.equal(q.text, "SELECT count() FROM `db`.`t` WHERE server_id = 'srv\\'1' AND n IN (1, (-2)) LIMIT 1");
    assert.equal(String(sql`SELECT ${1}-${-5}`), 'SELECT 1-(-5)');
  });
});
