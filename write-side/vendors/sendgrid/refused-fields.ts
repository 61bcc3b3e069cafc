import type { Server } from '../../../domain/index.js';
import { problem, type SendGridProblem } from './sendgrid-errors.js';
import { BATCH_ID_KEY, CATEGORIES_KEY } from './metadata-keys.js';
import type { SendGridMail } from './sendgrid-schemas.js';

/**
 * The SendGrid fields Postlog has no equivalent for, when a request asks for them: refused with the
 * reason, never dropped (a setting that is off asks for nothing and passes). docs/sendgrid.md lists them.
 */
export function refusedFields(body: SendGridMail, server: Server): SendGridProblem[] {
  const out: SendGridProblem[] = [];
  const refuse = (field: string, why: string) => out.push(problem(field, why));
  if (body.asm)
    refuse(
      'asm',
      'Postlog has no unsubscribe groups: an unsubscribe applies to the whole server. Leave asm out and ask for ' +
        'one-click unsubscribe headers with tracking_settings.subscription_tracking.enable.',
    );
  if (body.sections) refuse('sections', 'Postlog has no section tags: put the text into the substitutions.');
  if (body.ip_pool_name !== undefined && body.ip_pool_name !== server.ipPool)
    refuse(
      'ip_pool_name',
      `Postlog sends each server's mail from the IP pool its operator gave it (${server.ipPool ?? 'the default'}); ` +
        'a request cannot choose another.',
    );
  for (const key of [CATEGORIES_KEY, BATCH_ID_KEY])
    if (body.custom_args && key in body.custom_args)
      refuse(`custom_args.${key}`, `${key} is where Postlog keeps the request's own field.`);

  const m = body.mail_settings;
  const why: Record<string, string> = {
    bypass_list_management: "Postlog's suppression list cannot be bypassed from the send API.",
    bypass_spam_management: "Postlog's suppression list cannot be bypassed from the send API.",
    bypass_bounce_management: "Postlog's suppression list cannot be bypassed from the send API.",
    bypass_unsubscribe_management: "Postlog's suppression list cannot be bypassed from the send API.",
    footer: 'Postlog adds no footer: put it into the content.',
    bcc: 'Postlog has no account-wide Bcc: add the address to the personalization bcc.',
    spam_check: "Postlog's outbound spam check is the server's setting (outboundSpamThreshold).",
  };
  for (const [name, reason] of Object.entries(why)) {
    const setting = m?.[name as keyof typeof m];
    if (setting?.enable) refuse(`mail_settings.${name}.enable`, reason);
  }

  const t = body.tracking_settings;
  if (t?.click_tracking?.enable_text)
    refuse('tracking_settings.click_tracking.enable_text', 'Postlog tracks the links of the HTML part only.');
  if (t?.open_tracking?.substitution_tag !== undefined)
    refuse(
      'tracking_settings.open_tracking.substitution_tag',
      'Postlog places the open pixel itself; it takes no substitution tag.',
    );
  const sub = t?.subscription_tracking;
  for (const key of ['text', 'html', 'substitution_tag'] as const)
    if (sub?.[key] !== undefined)
      refuse(
        `tracking_settings.subscription_tracking.${key}`,
        'Postlog unsubscribes with List-Unsubscribe headers (one-click, RFC 8058), not a link in the body: ' +
          'put your own link into the content.',
      );
  if (t?.ganalytics?.enable)
    refuse('tracking_settings.ganalytics.enable', 'Postlog does not add Google Analytics parameters to links.');
  return out;
}
