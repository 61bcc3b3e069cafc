import { get, post } from './api';
import { ErrorNote, Time, useAction, useLoad } from './components';
import { useSession } from './session';

interface Rate {
  percent: number;
  count: number;
  volume: number;
  counts: boolean;
}
interface ReputationScope {
  domain: string | null;
  complaint: Rate;
  hardBounce: Rate;
  warned: string[];
  paused: { kind: string; reason: string; at: string } | null;
}
interface Reputation {
  windowHours: number;
  minVolume: number;
  thresholds: {
    complaint: { warnPercent: number; pausePercent: number };
    hardBounce: { warnPercent: number; pausePercent: number };
  };
  paused: boolean;
  scopes: ReputationScope[];
}

const rate = (r: Rate) => `${r.percent} % (${r.count} of ${r.volume})${r.counts ? '' : ' · too few to count'}`;

/**
 * The reputation guard on a server's page (GET /v2/servers/{id}/reputation): its complaint and
 * hard-bounce rates over the window, per sending domain, any pause with its reason, and for a
 * global admin the button that resumes sending (and releases the held mail).
 */
export function ReputationPanel({ serverId }: { serverId: string }) {
  const session = useSession();
  const { data, error, reload } = useLoad(() => get<Reputation>(`/v2/servers/${serverId}/reputation`), [serverId]);
  const action = useAction();
  if (error) return <ErrorNote error={error} />;
  if (!data) return null;
  const t = data.thresholds;
  async function resume() {
    if (await action.run(() => post(`/v2/servers/${serverId}/reputation/resume`, {}))) reload();
  }
  return (
    <section aria-label="Reputation" id="reputation">
      <h2>Reputation {data.paused ? '(sending paused)' : ''}</h2>
      <p>
        Last {data.windowHours} hours; a rate counts from {data.minVolume} messages. Complaints warn at{' '}
        {t.complaint.warnPercent} % and pause at {t.complaint.pausePercent} %; hard bounces at{' '}
        {t.hardBounce.warnPercent} % and {t.hardBounce.pausePercent} %.
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Scope</th>
            <th scope="col">Complaint rate</th>
            <th scope="col">Hard-bounce rate</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {data.scopes.map((s) => (
            <tr key={s.domain ?? ''} data-paused={s.paused ? 'true' : 'false'}>
              <td>{s.domain ?? 'whole server'}</td>
              <td>{rate(s.complaint)}</td>
              <td>{rate(s.hardBounce)}</td>
              <td>
                {s.paused ? (
                  <>
                    paused since <Time at={s.paused.at} />: {s.paused.reason}
                  </>
                ) : s.warned.length > 0 ? (
                  `warning: ${s.warned.join(', ')}`
                ) : (
                  'ok'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data.paused && session.user.globalAdmin ? (
        <button type="button" onClick={resume}>
          Resume sending and release held mail
        </button>
      ) : null}
      <ErrorNote error={action.error} />
    </section>
  );
}
