import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMailbox, type Server } from '../../domain/index.js';
import { schemaProblems } from '../../write-side/vendors/sendgrid/sendgrid-errors.js';
import { headerAddress, planSendGridMail, type SendGridPlan } from '../../write-side/vendors/sendgrid/sendgrid-mail.js';
import { SendGridMail } from '../../write-side/vendors/sendgrid/sendgrid-schemas.js';
import { substituteLiterally } from '../../write-side/vendors/sendgrid/substitutions.js';

const server = { id: 's1', ipPool: 'pool-a', trackOpens: true, trackClicks: false, listUnsubscribe: false } as Server;
const now = new Date('2026-12-06T10:00:00Z');
const base = {
  personalizations: [{ to: [{ email: 'ann@example.org' }] }],
  from: { email: 'shop@example.com' },
  subject: 'Hi',
  content: [{ type: 'text/plain', value: 'Hello' }],
};
const plan = (body: Record<string, unknown>) =>
  planSendGridMail(SendGridMail.parse({ ...base, ...body }), server, {}, now);
const fields = (body: Record<string, unknown>) => {
  const p = plan(body);
  assert.ok(Array.isArray(p), `refused: ${JSON.stringify(p)}`);
  return p.map((x) => x.field);
};
const planned = (body: Record<string, unknown>): SendGridPlan => {
  const p = plan(body);
  assert.ok(!Array.isArray(p), `accepted: ${JSON.stringify(p)}`);
  return p;
};

describe('SendGrid mail/send: how a request is read', () => {
  it('substitutes keys literally, longest first and in one pass', () => {
    const subs = { '-name-': 'Ann -code-', '-name-full-': 'Ann Lee', '-code-': 'A1', '{{x}}': '<b>' };
    assert.equal(substituteLiterally('-name-full- / -name- / -code- / {{x}}', subs), 'Ann Lee / Ann -code- / A1 / <b>');
    assert.equal(substituteLiterally('a.b*c', { '.': '!' }), 'a!b*c', 'keys are not patterns');
  });

  it('writes display names so that the header reads back as the same mailbox', () => {
    const header = headerAddress({ email: 'ann@example.org', name: 'Ann "the" \\ Lee, Jr' });
    const back = parseMailbox(header);
    assert.ok(back.ok);
    assert.equal(back.value.address, 'ann@example.org');
    assert.equal(back.value.name, 'Ann "the" \\ Lee, Jr');
    assert.equal(headerAddress({ email: 'bob@example.org' }), 'bob@example.org');
  });

  it('maps categories, custom_args, batch_id, send_at, tracking and an ip_pool_name that is the server’s', () => {
    const p = planned({
      categories: ['welcome', 'spring'],
      custom_args: { a: '1', b: '2' },
      batch_id: 'batch-9',
      send_at: Math.floor(now.getTime() / 1000) + 3600,
      ip_pool_name: 'pool-a',
      tracking_settings: { click_tracking: { enable: true }, open_tracking: { enable: false } },
      personalizations: [{ to: [{ email: 'ann@example.org' }], custom_args: { b: 'ann' } }],
    });
    assert.equal(p.tag, 'welcome');
    assert.deepEqual(p.metadata, {
      a: '1',
      b: '2',
      sendgrid_categories: '["welcome","spring"]',
      sendgrid_batch_id: 'batch-9',
    });
    assert.deepEqual(p.emails[0]!.metadata, { b: 'ann' });
    assert.equal(p.scheduledAt, '2026-12-06T11:00:00.000Z');
    assert.deepEqual(p.emails[0]!.tracking, { trackOpens: false, trackClicks: true, unsubscribe: false });
  });

  it('names a template by id when template_id is a UUID, by alias otherwise', () => {
    const noContent = { content: undefined, subject: undefined };
    assert.deepEqual(planned({ ...noContent, template_id: 'd-0123456789abcdef0123456789abcdef' }).template, {
      alias: 'd-0123456789abcdef0123456789abcdef',
    });
    const id = '0b6c54a4-2f7e-4a55-9a0e-3a3f0a1d6b7e';
    assert.deepEqual(planned({ ...noContent, template_id: id }).template, { id });
  });

  it('refuses what has no equivalent, naming each field', () => {
    assert.deepEqual(fields({ asm: { group_id: 1 } }), ['asm']);
    assert.deepEqual(fields({ ip_pool_name: 'pool-b' }), ['ip_pool_name']);
    assert.deepEqual(fields({ mail_settings: { footer: { enable: true }, bcc: { enable: false } } }), [
      'mail_settings.footer.enable',
    ]);
    assert.deepEqual(fields({ template_id: 'd-1' }), ['content', 'subject']);
    assert.deepEqual(fields({ content: [{ type: 'text/calendar', value: 'x' }] }), ['content.0.type']);
    assert.deepEqual(
      fields({
        content: [
          { type: 'text/html', value: '<p>x</p>' },
          { type: 'text/plain', value: 'x' },
        ],
      }),
      ['content'],
    );
    assert.deepEqual(
      fields({
        personalizations: [
          { to: [{ email: 'a@example.org' }], send_at: 1 },
          { to: [{ email: 'b@example.org' }], send_at: 2 },
        ],
      }),
      ['personalizations'],
    );
    assert.deepEqual(
      fields({ personalizations: [{ to: [{ email: 'a@example.org' }], from: { email: 'x@y.example' } }] }),
      ['personalizations.0.from'],
    );
    assert.deepEqual(fields({ attachments: [{ content: 'not base64!', filename: 'a' }] }), ['attachments.0.content']);
  });

  it("answers the schema's complaints as SendGrid does: unknown fields named, SendGrid's wording", () => {
    const parsed = SendGridMail.safeParse({ ...base, personalizations: [], priority: 1 });
    assert.ok(!parsed.success);
    const problems = schemaProblems(parsed.error);
    assert.deepEqual(problems.map((p) => p.field).sort(), ['personalizations', 'priority']);
    assert.match(problems.find((p) => p.field === 'personalizations')!.message, /must have at least one/);
  });
});
