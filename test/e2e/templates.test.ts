import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';

describe('server-side templates: versioned, strict, escaped, and named in the audit trail', () => {
  let t: TestApp;
  let tenant: Tenant;
  let other: Tenant;
  const key = (who = tenant) => ({ 'X-Server-API-Key': who.apiKey });
  const create = (body: Record<string, unknown>, who = tenant) =>
    http(t.url, 'POST', `/v2/servers/${who.server.id}/templates`, { body, headers: key(who) });

  before(async () => {
    t = await startTestApp();
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    other = await createTenant(t.app, { domain: 'other.test' });
  });
  after(async () => {
    await t?.stop();
  });

  it('creates, versions and previews a template: HTML escaped, subject and text as written', async () => {
    const created = await create({
      alias: 'welcome',
      subject: 'Welcome, {{name}} & co',
      html: '<p>Hello {{name}}</p>{{#each items}}<li>{{this}}</li>{{/each}}',
      text: 'Hello {{name}}',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.currentVersion, 1);
    const preview = await http(t.url, 'POST', `/v2/templates/${created.body.id}/preview`, {
      body: { model: { name: 'Tom <b>', items: ['a', 'b'] } },
      headers: key(),
    });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.subject, 'Welcome, Tom <b> & co');
    assert.equal(preview.body.html, '<p>Hello Tom &lt;b&gt;</p><li>a</li><li>b</li>');
    assert.equal(preview.body.text, 'Hello Tom <b>');

    const missing = await http(t.url, 'POST', `/v2/templates/${created.body.id}/preview`, {
      body: { model: { items: [] } },
      headers: key(),
    });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.code, 'TEMPLATE_RENDER_FAILED');
    assert.match(missing.body.message, /\{\{name\}\}/);

    const broken = await create({ alias: 'broken', subject: 'Hi {{#if x}}', text: 'x' });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.code, 'TEMPLATE_INVALID');
    assert.equal((await create({ alias: 'welcome', subject: 'again', text: 'x' })).status, 409);

    const v2 = await http(t.url, 'PUT', `/v2/templates/${created.body.id}`, {
      body: { subject: 'Hi {{name}}', text: 'Version two, {{name}}' },
      headers: key(),
    });
    assert.equal(v2.status, 200);
    assert.equal(v2.body.currentVersion, 2);
    const shown = await http(t.url, 'GET', `/v2/templates/${created.body.id}`, { headers: key() });
    assert.deepEqual(
      shown.body.versions.map((v: { version: number }) => v.version),
      [2, 1],
    );
    const first = await http(t.url, 'GET', `/v2/templates/${created.body.id}/versions/1`, { headers: key() });
    assert.equal(first.body.subject, 'Welcome, {{name}} & co');

    // found by schemathesis: a version past PostgreSQL's integer was a 500
    const huge = await http(t.url, 'POST', `/v2/templates/${created.body.id}/preview`, {
      body: { model: {}, version: 9007199254740990 },
      headers: key(),
    });
    assert.equal(huge.status, 400);
    // another server's key sees none of it
    assert.equal((await http(t.url, 'GET', `/v2/templates/${created.body.id}`, { headers: key(other) })).status, 404);
  });

  it('sends with a template by alias, per recipient, and the Accepted event names the version rendered', async () => {
    const created = await create({
      alias: 'receipt',
      subject: 'Receipt {{order}}',
      text: 'Thanks {{name}}, order {{order}}.',
    });
    assert.equal(created.status, 201);
    const sent = await http(t.url, 'POST', '/v2/messages', {
      body: {
        from: 'shop@sender.test',
        to: [
          { address: 'ann@example.org', variables: { name: 'Ann' } },
          { address: 'bob@example.org', variables: { name: 'Bob' } },
        ],
        template: { alias: 'receipt', model: { order: 'A-17', name: 'nobody' } },
      },
      headers: key(),
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const [ann, bob] = sent.body.messages as { id: string }[];
    const raw = (await http(t.url, 'GET', `/v2/messages/${bob!.id}/raw`, { headers: key() })).body as string;
    assert.match(raw, /Subject: Receipt A-17/);
    assert.match(raw, /Thanks Bob, order A-17\./);
    const history = await http(t.url, 'GET', `/v2/messages/${ann!.id}/history`, { headers: key() });
    const accepted = history.body.events.find((e: { type: string }) => e.type === 'MessageAccepted');
    assert.deepEqual(accepted.data.template, { id: created.body.id, alias: 'receipt', version: 1 });
  });

  it('refuses the whole send when the model lacks a variable, when the template is unknown or another server’s', async () => {
    await create({ alias: 'needs-code', subject: 'Code', text: 'Your code is {{code}}' });
    const missing = await http(t.url, 'POST', '/v2/messages', {
      body: {
        from: 'shop@sender.test',
        to: [{ address: 'ann@example.org', variables: { code: '1' } }, 'bob@example.org'],
        template: { alias: 'needs-code' },
      },
      headers: key(),
    });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.code, 'TEMPLATE_RENDER_FAILED');
    assert.equal(missing.body.fields[0].path, 'template.model.code');
    const unknown = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'shop@sender.test', to: ['ann@example.org'], template: { alias: 'nope' } },
      headers: key(),
    });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.code, 'UNKNOWN_TEMPLATE');
    const theirs = await create({ alias: 'theirs', subject: 'x', text: 'x' }, other);
    const foreign = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'shop@sender.test', to: ['ann@example.org'], template: { id: theirs.body.id } },
      headers: key(),
    });
    assert.equal(foreign.body.code, 'UNKNOWN_TEMPLATE');
    const mixed = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'shop@sender.test', to: ['ann@example.org'], subject: 'x', template: { alias: 'needs-code' } },
      headers: key(),
    });
    assert.equal(mixed.status, 400);
  });

  it('test-sends a version from the dashboard or an admin token, naming the version; an API key may not', async () => {
    const created = await create({ alias: 'hello-test', subject: 'Hi {{name}}', html: '<p>{{name}}</p>' });
    await http(t.url, 'PUT', `/v2/templates/${created.body.id}`, { body: { subject: 'V2 {{name}}' }, headers: key() });
    const admin = { authorization: `Bearer ${tenant.adminToken}` };
    const sent = await http(t.url, 'POST', `/v2/templates/${created.body.id}/test-send`, {
      body: { to: 'me@example.org', model: { name: 'Me' }, version: 1 },
      headers: admin,
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.from, 'postlog-test@sender.test');
    const history = await http(t.url, 'GET', `/v2/messages/${sent.body.id}/history`, { headers: admin });
    const accepted = history.body.events.find((e: { type: string }) => e.type === 'MessageAccepted');
    assert.equal(accepted.data.subject, 'Hi Me');
    assert.deepEqual(accepted.data.template, { id: created.body.id, alias: 'hello-test', version: 1 });
    const byKey = await http(t.url, 'POST', `/v2/templates/${created.body.id}/test-send`, {
      body: { to: 'me@example.org', model: { name: 'Me' } },
      headers: key(),
    });
    assert.equal(byKey.status, 403);
  });
});
