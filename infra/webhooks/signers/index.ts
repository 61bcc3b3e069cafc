import type { WebhookFormat } from '../../../domain/index.js';
import { mailgunSigner } from './mailgun.js';
import { postalSigner } from './postal.js';
import { postlogSigner } from './postlog.js';
import { sendgridSigner } from './sendgrid.js';
import type { Signer } from './signer.js';
import { unsignedSigner } from './unsigned.js';

export type { Signer, SignInput } from './signer.js';

/** How each body format is signed at dispatch (the body formats are domain/webhooks/formats/). */
export const webhookSigners: Record<WebhookFormat, Signer> = {
  postal: postalSigner,
  postlog: postlogSigner,
  sendgrid: sendgridSigner,
  mailgun: mailgunSigner,
  postmark: unsignedSigner,
  listmonk: unsignedSigner,
};
