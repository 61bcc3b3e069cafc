import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api';
import { ErrorNote, Loading, Page, StatusBadge, Time, useLoad } from '../components';
import { may, useSession } from '../session';
import type { HistoryEvent, IncomingView, MessageView, Server, TlsPolicy } from '../types';

/** States that change only by an action (which reloads the page): no need to follow the log. */
const SETTLED = ['delivered', 'bounced', 'failed', 'cancelled', 'held', 'stored', 'rejected'];

type Action = 'retry' | 'hold' | 'release' | 'cancel' | 'redeliver';
/** What the API allows in each state (it refuses the rest: the page offers nothing it would refuse). */
const ACTIONS: Record<'outgoing' | 'incoming', { action: Action; when: string[] }[]> = {
  outgoing: [
    { action: 'release', when: ['held'] },
    { action: 'hold', when: ['queued', 'deferred'] },
    // "retry now" of a message waiting for its next attempt
    { action: 'retry', when: ['deferred'] },
    { action: 'cancel', when: ['held', 'queued', 'deferred'] },
    // sent again from the stored content (the API refuses it once retention removed the content)
    { action: 'redeliver', when: ['delivered', 'failed', 'bounced'] },
  ],
  incoming: [
    // to the endpoints its route has now
    { action: 'release', when: ['held'] },
    // to its failed endpoints again (every endpoint, for a delivered one)
    { action: 'retry', when: ['failed', 'delivered'] },
  ],
};

/** What an incoming message has: its envelope, authentication and scan results, and its endpoints. */
/**
 * The TLS policy an attempt went out under: which (MTA-STS with its mode), whose word it was, what the
 * message asked (REQUIRETLS, TLS-Required: No) and what failed of it (an RFC 8460 result type).
 */
function TlsPolicyCell({ policy: p }: { policy: TlsPolicy | null }) {
  if (!p) return <>—</>;
  const asked = [p.requireTls ? 'REQUIRETLS' : '', p.tlsOptional ? 'TLS-Required: No' : ''].filter(Boolean);
  return (
    <>
      {p.policy}
      {p.mode ? ` (${p.mode})` : ''} <small>by {p.source === 'dns' ? p.domain : p.source}</small>
      {asked.length > 0 ? <small> · {asked.join(', ')}</small> : null}
      {p.failure ? (
        <div>
          <small title={p.failure.detail}>failed: {p.failure.type}</small>
        </div>
      ) : null}
    </>
  );
}

function IncomingFacts({ incoming: i }: { incoming: IncomingView }) {
  return (
    <>
      <h2>Received</h2>
      <dl class="facts">
        <dt>Envelope sender</dt>
        <dd>{i.mailFrom || '<> (a bounce)'}</dd>
        <dt>Sending server</dt>
        <dd>
          {i.clientIp} ({i.helo || 'no HELO'}), {i.tls ? 'TLS' : 'no TLS'}
        </dd>
        <dt>Authentication</dt>
        <dd>
          {i.authentication
            ? `SPF ${i.authentication.spf}, DKIM ${i.authentication.dkim}, DMARC ${i.authentication.dmarc}, ARC ${i.authentication.arc}`
            : 'not checked'}
        </dd>
        <dt>Spam and viruses</dt>
        <dd>
          {i.scan
            ? [
                i.scan.spamStatus,
                i.scan.spamScore !== undefined ? `score ${i.scan.spamScore}` : null,
                i.scan.virus ? `virus ${i.scan.virus}` : null,
                i.scan.failures?.length ? `no answer from ${i.scan.failures.join(', ')}` : null,
              ]
                .filter(Boolean)
                .join(', ')
            : 'no scanner configured'}
        </dd>
        {i.bounceOf ? (
          <>
            <dt>Bounce of</dt>
            <dd>
              <a href={`/messages/${i.bounceOf}`}>message {i.bounceOf}</a> (kept at the return path, routed nowhere)
            </dd>
          </>
        ) : (
          <>
            <dt>Route</dt>
            <dd>
              <a href={`/routes/${i.routeId}`}>its route</a>
            </dd>
          </>
        )}
      </dl>
      <h2>Endpoints</h2>
      {i.endpoints.length === 0 ? (
        <p>Handed to no endpoint (stored, held, bounced or refused).</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">endpoint</th>
              <th scope="col">status</th>
              <th scope="col">attempts</th>
              <th scope="col">last answer</th>
              <th scope="col">at</th>
            </tr>
          </thead>
          <tbody>
            {i.endpoints.map((e) => (
              <tr key={e.endpointId}>
                <td>
                  {e.kind} <code>{e.target}</code>
                </td>
                <td>
                  <StatusBadge status={e.status} />
                </td>
                <td>{e.attempts}</td>
                <td>
                  <code>{[e.lastCode, e.lastResponse].filter((x) => x !== null).join(' ')}</code>
                </td>
                <td>
                  <Time at={e.lastAttemptAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** One message: its status, every delivery attempt, and the timeline of every event in its stream. */
export function Message({ id }: { id: string }) {
  const session = useSession();
  const [actionError, setActionError] = useState<Error>();
  const { data, error, reload } = useLoad(async () => {
    const [message, history] = await Promise.all([
      get<MessageView>(`/v2/messages/${id}`),
      get<{ events: HistoryEvent[] }>(`/v2/messages/${id}/history`),
    ]);
    const server = await get<Server>(`/v2/servers/${message.serverId}`);
    return { message, history: history.events, server };
  }, [id]);
  // until the message settles, its page follows the log
  const settled = data ? SETTLED.includes(data.message.status) : true;
  useEffect(() => {
    if (settled) return;
    const timer = setTimeout(reload, 2000);
    return () => clearTimeout(timer);
  }, [data, settled]);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the message" />;
  const { message: m, history, server } = data;
  const canAct = may(session, server.organizationId, 'member');

  async function act(action: string) {
    setActionError(undefined);
    try {
      await post(`/v2/messages/${id}/${action}`);
      reload();
    } catch (err) {
      setActionError(err as Error);
    }
  }

  return (
    <Page
      title={m.subject || '(no subject)'}
      actions={
        canAct
          ? ACTIONS[m.direction ?? 'outgoing']
              .filter((a) => a.when.includes(m.status))
              .map((a) => (
                <button key={a.action} type="button" onClick={() => act(a.action)}>
                  {a.action[0]!.toUpperCase() + a.action.slice(1)}
                </button>
              ))
          : null
      }
    >
      <ErrorNote error={actionError} />
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={m.status} /> {m.heldReason ? <small>({m.heldReason})</small> : null}
        </dd>
        <dt>From</dt>
        <dd>{m.from}</dd>
        <dt>To</dt>
        <dd>{m.to}</dd>
        <dt>Server</dt>
        <dd>
          <a href={`/servers/${server.id}`}>{server.name}</a>
        </dd>
        <dt>Message-ID</dt>
        <dd>
          <code>{m.rfcMessageId}</code>
        </dd>
        <dt>Size</dt>
        <dd>{m.size} bytes</dd>
        <dt>Raw</dt>
        <dd>
          <a href={`/v2/messages/${id}/raw`} download={`message-${id}.eml`}>
            Download .eml
          </a>
        </dd>
      </dl>

      {m.incoming ? <IncomingFacts incoming={m.incoming} /> : null}

      {m.direction === 'incoming' ? null : <h2>Delivery attempts</h2>}
      {m.deliveries.length === 0 && m.direction !== 'incoming' ? <p>No attempt yet.</p> : null}
      {m.deliveries.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">outcome</th>
              <th scope="col">MX</th>
              <th scope="col">IP</th>
              <th scope="col">TLS</th>
              <th scope="col">TLS policy</th>
              <th scope="col">reply</th>
              <th scope="col">ms</th>
            </tr>
          </thead>
          <tbody>
            {m.deliveries.map((d) => (
              <tr key={d.attempt}>
                <td>{d.attempt}</td>
                <td>{d.outcome}</td>
                <td>{d.mxHost ?? '—'}</td>
                <td>{d.remoteIp ?? '—'}</td>
                <td>{d.tls ? d.tls.protocol : 'none'}</td>
                <td>
                  <TlsPolicyCell policy={d.tlsPolicy} />
                </td>
                <td>
                  <code>{[d.smtpCode, d.enhancedCode, d.smtpText].filter(Boolean).join(' ') || d.detail}</code>
                </td>
                <td>{d.durationMs}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}

      <Content id={id} />

      {m.opens.length + m.clicks.length > 0 ? (
        <>
          <h2>Opens and clicks</h2>
          <ul>
            {m.opens.map((o) => (
              <li key={`o-${o.at}`}>
                opened <Time at={o.at} /> {o.machine ? '(a machine: image proxy or scanner)' : ''}
              </li>
            ))}
            {m.clicks.map((c) => (
              <li key={`c-${c.at}-${c.url}`}>
                clicked <code>{c.url}</code> <Time at={c.at} /> {c.machine ? '(a machine: link scanner)' : ''}
              </li>
            ))}
          </ul>
        </>
      ) : null}

      <h2>Timeline</h2>
      <ol class="timeline" aria-label="Events in the log">
        {history.map((e) => (
          <li key={e.eventId} data-event={e.type}>
            <details>
              <summary>
                <strong>{e.type}</strong> <Time at={e.recordedAt} /> <small>revision {e.revision}</small>
              </summary>
              <pre>{JSON.stringify({ data: e.data, metadata: e.metadata }, null, 2)}</pre>
            </details>
          </li>
        ))}
      </ol>
    </Page>
  );
}

interface MessageContent {
  headers: { name: string; value: string }[];
  text: string | null;
  html: string | null;
  attachments: { filename: string | null; mimeType: string; size: number }[];
}

/**
 * What the recipient reads: the text, the HTML in a sandboxed frame (no scripts, no forms; the
 * page's CSP also keeps remote images and fonts from loading, so no tracking pixel fires), and the
 * headers.
 */
function Content({ id }: { id: string }) {
  const [tab, setTab] = useState<'text' | 'html' | 'headers'>('text');
  const { data, error } = useLoad(() => get<MessageContent>(`/v2/messages/${id}/content`), [id]);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the content" />;
  const tabs = [
    ['text', 'Text', data.text !== null],
    ['html', 'HTML', data.html !== null],
    ['headers', 'Headers', true],
  ] as const;
  return (
    <section aria-labelledby="content-title">
      <h2 id="content-title">Content</h2>
      <div role="tablist" class="tabs">
        {tabs
          .filter(([, , has]) => has)
          .map(([key, label]) => (
            <button key={key} type="button" role="tab" aria-selected={tab === key} onClick={() => setTab(key)}>
              {label}
            </button>
          ))}
      </div>
      <div role="tabpanel">
        {tab === 'text' ? <pre class="mail-text">{data.text ?? '(no text part)'}</pre> : null}
        {tab === 'html' && data.html !== null ? (
          <>
            <p>
              <small>Remote images and fonts are not loaded here.</small>
            </p>
            <iframe class="mail-html" title="HTML part of the message" sandbox="" srcDoc={data.html} />
          </>
        ) : null}
        {tab === 'headers' ? (
          <table>
            <tbody>
              {data.headers.map((h, i) => (
                <tr key={`${h.name}-${i}`}>
                  <th scope="row">{h.name}</th>
                  <td>
                    <code>{h.value}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </div>
      {data.attachments.length > 0 ? (
        <p>
          Attachments:{' '}
          {data.attachments.map((a) => `${a.filename ?? '(unnamed)'} (${a.mimeType}, ${a.size} bytes)`).join(', ')}
        </p>
      ) : null}
    </section>
  );
}
