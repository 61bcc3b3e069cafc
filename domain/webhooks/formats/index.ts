import type { Formatter, WebhookFormat } from './format.js';
import { listmonkFormat } from './listmonk.js';
import { mailgunFormat } from './mailgun.js';
import { postalFormat } from './postal.js';
import { postlogFormat } from './postlog.js';
import { postmarkFormat } from './postmark.js';
import { sendgridFormat } from './sendgrid.js';

export * from './format.js';
export { LISTMONK_CAMPAIGN_KEY, LISTMONK_SUBSCRIBER_KEY } from './listmonk.js';

/** The formatter of each format (docs/webhooks.md, "Formats", says what each sends). */
export const webhookFormatters: Record<WebhookFormat, Formatter> = {
  postal: postalFormat,
  postlog: postlogFormat,
  sendgrid: sendgridFormat,
  mailgun: mailgunFormat,
  postmark: postmarkFormat,
  listmonk: listmonkFormat,
};
