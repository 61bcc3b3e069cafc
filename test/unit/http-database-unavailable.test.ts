import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { makeErrorHandler } from '../../infra/http/errors.js';
import { mailgunErrorHandler } from '../../write-side/vendors/mailgun/mailgun-errors.js';
import { sendGridErrorHandler } from '../../write-side/vendors/sendgrid/sendgrid-errors.js';
import { freePort } from '../helpers/ports.js';

/**
 * Regression test for what the chaos run (docs/testing.md#chaos-run) found: POST /v2/messages while the
 * embedded PostgreSQL was killed or its disk full answered 500 INTERNAL ("Postlog's own fault"), so a
 * client had no reason to retry. The errors here are real ones: pg's own connection failures, and the
 * SQLSTATE PostgreSQL gave when the chaos run filled its disk.
 */
describe('HTTP answers while PostgreSQL cannot take a request', () => {
  let app: FastifyInstance;
  let closedPort: number;

  before(async () => {
    closedPort = await freePort();
    app = Fastify();
    app.setErrorHandler(makeErrorHandler(true));
    app.get('/refused', async () => {
      await new pg.Client({ host: '127.0.0.1', port: closedPort, user: 'x', database: 'x' }).connect();
    });
    app.get('/no-socket', async () => {
      await new pg.Client({ host: '/nonexistent-postlog-socket-dir', port: closedPort, user: 'x' }).connect();
    });
    app.get('/disk-full', async () => {
      throw Object.assign(new Error('could not extend file "base/5/16401": No space left on device'), {
        code: '53100',
      });
    });
    app.get('/starting', async () => {
      throw Object.assign(new Error('the database system is not yet accepting connections'), { code: '57P03' });
    });
    app.get('/bug', async () => {
      throw Object.assign(new Error('relation "nope" does not exist'), { code: '42P01' });
    });
    await app.ready();
  });
  after(() => app.close());

  for (const path of ['/refused', '/no-socket', '/disk-full', '/starting'])
    it(`answers 503 DATABASE_UNAVAILABLE with retry-after for ${path.slice(1)}`, async () => {
      const res = await app.inject({ method: 'GET', url: path });
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'DATABASE_UNAVAILABLE');
      assert.equal(res.headers['retry-after'], '5');
    });

  it('still answers 500 INTERNAL for an error of our own (a bad query)', async () => {
    const res = await app.inject({ method: 'GET', url: '/bug' });
    assert.equal(res.statusCode, 500, res.body);
    assert.equal(res.json().code, 'INTERNAL');
  });
});

describe("the vendor APIs' own error handlers while PostgreSQL cannot take a request", () => {
  const handlers = [
    ['SendGrid', sendGridErrorHandler, (body: string) => JSON.parse(body).errors[0].message as string],
    ['Mailgun', mailgunErrorHandler, (body: string) => JSON.parse(body).message as string],
  ] as const;
  for (const [vendor, handler, messageOf] of handlers)
    it(`${vendor}: 503 with retry-after for a database that is down, 500 for a bug`, async () => {
      const app = Fastify({ logger: false });
      app.setErrorHandler(handler);
      app.get('/starting', async () => {
        throw Object.assign(new Error('the database system is not yet accepting connections'), { code: '57P03' });
      });
      app.get('/bug', async () => {
        throw Object.assign(new Error('relation "nope" does not exist'), { code: '42P01' });
      });
      await app.ready();
      try {
        const down = await app.inject({ method: 'GET', url: '/starting' });
        assert.equal(down.statusCode, 503, down.body);
        assert.equal(down.headers['retry-after'], '5');
        assert.match(messageOf(down.body), /database cannot take the request now/);
        assert.equal((await app.inject({ method: 'GET', url: '/bug' })).statusCode, 500);
      } finally {
        await app.close();
      }
    });
});
