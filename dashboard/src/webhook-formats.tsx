/**
 * The body formats an endpoint can receive, as the API names them (domain/webhooks/formats). Copied,
 * not imported, like the event list; test/unit/dashboard-webhook-events fails when the two differ.
 */
export const WEBHOOK_FORMATS = ['postal', 'postlog', 'sendgrid', 'mailgun', 'postmark', 'listmonk'];

const labels: Record<string, string> = {
  postal: 'Postal (default)',
  postlog: 'Postlog',
  sendgrid: 'SendGrid Event Webhook',
  mailgun: 'Mailgun',
  postmark: 'Postmark (Basic auth from the URL)',
  listmonk: 'Listmonk bounces (Basic auth from the URL)',
};

/** The endpoint's body format, as a select (docs/webhooks.md, "Formats"). */
export function FormatSelect({ value, onChange }: { value: string; onChange: (format: string) => void }) {
  return (
    <label class="field">
      Format{' '}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {WEBHOOK_FORMATS.map((f) => (
          <option key={f} value={f}>
            {labels[f] ?? f}
          </option>
        ))}
      </select>
    </label>
  );
}
