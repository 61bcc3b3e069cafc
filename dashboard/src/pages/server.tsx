import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { get, post, query } from '../api';
import { ErrorNote, Loading, Page, useLoad } from '../components';
import { DailyChart, type Series } from '../chart';
import { may, useSession } from '../session';
import { ReputationPanel } from '../reputation-panel';
import { BlocklistBadges, loadListings } from '../blocklists';
import { ServerTabs } from '../server-tabs';
import type { Domain, QueueDestination, Server } from '../types';
import { FirstRun } from './first-run';
import { QueueTable } from './queue';

const COUNTS = [
  'accepted',
  'delivered',
  'deferred',
  'bounced',
  'held',
  'opened_unique',
  'clicked_unique',
  'complained',
];

const SERIES = [
  { key: 'accepted', color: '#1f5fbf' },
  { key: 'delivered', color: '#1a7f37' },
  { key: 'deferred', color: '#b08800' },
  { key: 'bounced', color: '#b42318' },
];

function seriesOf(
  s: { key: string; color: string },
  rows: ({ day: string } & Record<string, number>)[],
  period: string[],
): Series {
  const byDay = new Map(rows.map((r) => [String(r.day).slice(0, 10), r[s.key] ?? 0]));
  return { label: s.key, color: s.color, values: period.map((d) => byDay.get(d) ?? 0) };
}

/** A server at a glance: totals over the chosen period, the queue per destination, where to go next. */
export function ServerOverview({ id, days = '7' }: { id: string; days?: string }) {
  const session = useSession();
  const since = new Date(Date.now() - Number(days) * 86_400_000).toISOString().slice(0, 10);
  const { data, error } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        get<{ days: ({ day: string } & Record<string, number>)[]; totals: Record<string, number> }>(
          `/v2/stats${query({ serverId: id, since })}`,
        ),
        get<{ destinations: QueueDestination[] }>(`/v2/queue${query({ serverId: id })}`),
        get<{ domains: Domain[] }>(`/v2/servers/${id}/domains`),
        get<{ messages: unknown[] }>(`/v2/messages${query({ serverId: id, limit: 1 })}`),
        loadListings(),
      ]),
    [id, since],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the server" />;
  const [server, stats, queue, { domains }, { messages }, allListings] = data;
  // its domains, and the IPs of its pool, on a blocklist
  const listings = allListings.filter((l) => l.serverIds.includes(id));
  const canSend = may(session, server.organizationId, 'member');
  const steps = { hasDomain: domains.length > 0, verified: domains.some((d) => d.verified), sent: messages.length > 0 };
  const checklist = steps.verified && steps.sent ? undefined : steps;
  // every day of the period, the quiet ones too: a chart of only the busy days misleads
  const period = Array.from({ length: Number(days) + 1 }, (_, i) =>
    new Date(Date.parse(since) + i * 86_400_000).toISOString().slice(0, 10),
  );
  const sent = stats.totals.accepted ?? 0;
  const rate = (n: number | undefined) => (sent ? `${(((n ?? 0) / sent) * 100).toFixed(2)} %` : '—');
  return (
    <Page title={server.name}>
      <ServerTabs id={id} />
      {listings.length > 0 ? (
        <p class="error" role="alert">
          Sending from a blocklisted {listings.some((l) => l.kind === 'ip') ? 'IP or domain' : 'domain'}:{' '}
          {listings.map((l) => `${l.target} (${l.zone})`).join(', ')} <BlocklistBadges listings={listings} />
        </p>
      ) : null}
      {checklist ? <FirstRun serverId={id} canSend={canSend} {...checklist} /> : null}
      {canSend ? <SendTest serverId={id} /> : null}
      <h2>Last {days} days</h2>
      <dl class="stats">
        {COUNTS.map((k) => (
          <div key={k}>
            <dt>{k.replace('_unique', '').replace('_', ' ')}</dt>
            <dd data-count={k}>{stats.totals[k] ?? 0}</dd>
          </div>
        ))}
        <div>
          <dt>bounce rate</dt>
          <dd>{rate(stats.totals.bounced)}</dd>
        </div>
        <div>
          <dt>complaint rate</dt>
          <dd>{rate(stats.totals.complained)}</dd>
        </div>
      </dl>
      <DailyChart title="Messages per day" days={period} series={SERIES.map((k) => seriesOf(k, stats.days, period))} />
      <ReputationPanel serverId={id} />
      <h2>Queue by destination</h2>
      <QueueTable destinations={queue.destinations} serverId={id} />
    </Page>
  );
}

/** Sends a test message from the server's first verified domain, then shows its timeline. */
function SendTest({ serverId }: { serverId: string }) {
  const { route } = useLocation();
  const [to, setTo] = useState('');
  const [error, setError] = useState<Error>();
  async function send(e: Event) {
    e.preventDefault();
    setError(undefined);
    try {
      const sent = await post<{ id: string }>(`/v2/servers/${serverId}/test-message`, { to });
      route(`/messages/${sent.id}`);
    } catch (err) {
      setError(err as Error);
    }
  }
  return (
    <form class="search" id="send-test" onSubmit={send} aria-label="Send a test message">
      <label>
        Send a test message to{' '}
        <input id="send-test-to" type="email" required value={to} onInput={(e) => setTo(e.currentTarget.value)} />
      </label>
      <button type="submit">Send test message</button>
      <ErrorNote error={error} />
    </form>
  );
}
