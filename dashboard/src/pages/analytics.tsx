import { useState } from 'preact/hooks';
import { get } from '../api';
import { DailyChart } from '../chart';
import { ErrorNote, Loading, Page, useLoad } from '../components';
import { graphql } from '../graphql';
import { ServerTabs } from '../server-tabs';
import type { Server } from '../types';

interface Funnel {
  accepted: number;
  delivered: number;
  bounced: number;
  deferred: number;
  failed: number;
  opened: { unique: number; human: { unique: number } };
  clicked: { unique: number; human: { unique: number } };
}

const FUNNEL = `accepted delivered bounced deferred failed
  opened { unique human { unique } } clicked { unique human { unique } }`;

const REPORT = `query Report($serverId: ID, $from: String, $by: Dimension!) {
  funnel(serverId: $serverId, from: $from) { ${FUNNEL} }
  timeSeries(serverId: $serverId, from: $from, bucket: DAY) { start counts { ${FUNNEL} } }
  breakdown(serverId: $serverId, from: $from, by: $by, limit: 10) { key counts { ${FUNNEL} } }
  topLinks(serverId: $serverId, from: $from, limit: 10) { url clicks { total unique } }
}`;

interface Report {
  funnel: Funnel;
  timeSeries: { start: string; counts: Funnel }[];
  breakdown: { key: string | null; counts: Funnel }[];
  topLinks: { url: string; clicks: { total: number; unique: number } }[];
}

const DIMENSIONS = [
  ['RECIPIENT_DOMAIN', 'recipient domain'],
  ['MAILBOX_PROVIDER', 'mailbox provider'],
  ['TAG', 'tag'],
  ['SENDING_DOMAIN', 'sending domain'],
  ['BOUNCE_CLASSIFICATION', 'bounce class'],
] as const;

const pct = (n: number, of: number) => (of ? `${((n / of) * 100).toFixed(1)} %` : '—');

/** A server's analytics from GraphQL: the funnel, messages per day, a breakdown, the most clicked links. */
export function Analytics({ id }: { id: string }) {
  const [days, setDays] = useState(30);
  const [by, setBy] = useState<string>('RECIPIENT_DOMAIN');
  const from = new Date(Date.now() - days * 86_400_000).toISOString();
  const { data, error } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        graphql<Report>(REPORT, { serverId: id, from: `${from.slice(0, 10)}T00:00:00Z`, by }),
      ]),
    [id, days, by],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="analytics" />;
  const [server, report] = data;
  const f = report.funnel;
  // every day of the period (the report has only days with events): a chart of busy days alone misleads
  const period = Array.from({ length: days + 1 }, (_, i) =>
    new Date(Date.parse(`${from.slice(0, 10)}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10),
  );
  const byDay = new Map(report.timeSeries.map((p) => [p.start.slice(0, 10), p.counts]));
  const perDay = (pick: (c: Funnel) => number) => period.map((d) => (byDay.has(d) ? pick(byDay.get(d)!) : 0));
  return (
    <Page title={`Analytics · ${server.name}`}>
      <ServerTabs id={id} />
      <form class="search" aria-label="Report settings">
        <label>
          Period
          <select value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
            <option value="7">7 days</option>
            <option value="30">30 days</option>
            <option value="90">90 days</option>
          </select>
        </label>
        <label>
          Breakdown by
          <select value={by} onChange={(e) => setBy(e.currentTarget.value)}>
            {DIMENSIONS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </form>
      <h2>Funnel</h2>
      <dl class="stats">
        {(
          [
            ['accepted', f.accepted, ''],
            ['delivered', f.delivered, pct(f.delivered, f.accepted)],
            ['bounced', f.bounced, pct(f.bounced, f.accepted)],
            ['deferred', f.deferred, ''],
            ['opened (people)', f.opened.human.unique, pct(f.opened.human.unique, f.delivered)],
            ['clicked (people)', f.clicked.human.unique, pct(f.clicked.human.unique, f.delivered)],
          ] as const
        ).map(([label, n, rate]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>
              {n} {rate ? <small>{rate}</small> : null}
            </dd>
          </div>
        ))}
      </dl>
      <DailyChart
        title="Per day"
        days={period}
        series={[
          { label: 'delivered', color: '#1a7f37', values: perDay((c) => c.delivered) },
          { label: 'bounced', color: '#b42318', values: perDay((c) => c.bounced) },
          { label: 'opened', color: '#1f5fbf', values: perDay((c) => c.opened.unique) },
          { label: 'clicked', color: '#8250df', values: perDay((c) => c.clicked.unique) },
        ]}
      />
      <h2>Breakdown</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">{DIMENSIONS.find(([v]) => v === by)?.[1]}</th>
            <th scope="col">accepted</th>
            <th scope="col">delivered</th>
            <th scope="col">bounced</th>
            <th scope="col">opened</th>
            <th scope="col">clicked</th>
          </tr>
        </thead>
        <tbody>
          {report.breakdown.map((r) => (
            <tr key={r.key ?? '-'}>
              <td>{r.key ?? '(none)'}</td>
              <td>{r.counts.accepted}</td>
              <td>{r.counts.delivered}</td>
              <td>{r.counts.bounced}</td>
              <td>{r.counts.opened.unique}</td>
              <td>{r.counts.clicked.unique}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Most clicked links</h2>
      {report.topLinks.length === 0 ? <p>No click in this period.</p> : null}
      <ol>
        {report.topLinks.map((l) => (
          <li key={l.url}>
            <code>{l.url}</code> — {l.clicks.unique} people, {l.clicks.total} clicks
          </li>
        ))}
      </ol>
    </Page>
  );
}
