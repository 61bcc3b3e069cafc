/**
 * The first steps with a new server, shown on its page until it has a verified domain and a
 * message: each step says whether it is done and links where to do it.
 */
export function FirstRun({
  serverId,
  canSend,
  hasDomain,
  verified,
  sent,
}: {
  serverId: string;
  canSend: boolean;
  hasDomain: boolean;
  verified: boolean;
  sent: boolean;
}) {
  const domains = `/servers/${serverId}/domains`;
  const steps = [
    { done: hasDomain, text: 'Add a domain', href: domains },
    { done: verified, text: 'Publish its DNS records', href: domains },
  ];
  // the form is on this page: the step takes the keyboard there
  const focusSendTest = () => document.getElementById('send-test-to')?.focus();
  return (
    <section class="card" aria-labelledby="first-run">
      <h2 id="first-run">Getting started</h2>
      <ol class="checklist">
        {steps.map((s) => (
          <li key={s.text} class={s.done ? 'done' : undefined}>
            <a href={s.href}>{s.text}</a> <span>{s.done ? '(done)' : '(to do)'}</span>
          </li>
        ))}
        <li class={sent ? 'done' : undefined}>
          {canSend ? (
            <button type="button" class="link" onClick={focusSendTest}>
              Send a test message
            </button>
          ) : (
            'Send a test message'
          )}{' '}
          <span>{sent ? '(done)' : '(to do)'}</span>
        </li>
      </ol>
    </section>
  );
}
