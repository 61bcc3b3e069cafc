import { useState } from 'preact/hooks';
import { get, query } from '../api';
import { ErrorNote, Loading, Page, Time, useLoad } from '../components';

interface AuditEntry {
  id: number | string;
  at: string | null;
  actor: string;
  action: string;
  entityType: string;
  entityId: string | null;
  serverId?: string | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

const PAGE = 50;

/** The fields that say which thing was created or deleted (every field of it would drown the list). */
const NAMING = ['name', 'email', 'address', 'identifier', 'url'];

/** What a change changed: each top-level field whose value differs, before → after; made or removed: its name. */
function changesOf(e: AuditEntry): string[] {
  const before = e.before ?? {};
  const after = e.after ?? {};
  const whole = e.before && e.after ? undefined : (e.after ?? e.before);
  if (whole) return NAMING.filter((k) => k in whole).map((k) => `${k}: ${JSON.stringify(whole[k])}`);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  // a DKIM key or a list of records is long: the start of it says what it was
  const show = (v: unknown) => (v === undefined ? '—' : JSON.stringify(v).slice(0, 120));
  return keys
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => `${k}: ${show(before[k])} → ${show(after[k])}`);
}

const serverOf = (e: AuditEntry) => e.serverId ?? (e.entityType === 'server' ? e.entityId : null);

/**
 * The configuration audit log (GET /v2/audit): who changed what and when, newest first, in the
 * organizations the user administers (everything for a global admin); older pages on demand.
 */
export function Audit() {
  const [before, setBefore] = useState<string>();
  const { data, error } = useLoad(
    () => get<{ entries: AuditEntry[] }>(`/v2/audit${query({ limit: PAGE, before })}`),
    [before],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the audit log" />;
  const last = data.entries[data.entries.length - 1];
  return (
    <Page title="Audit log">
      {before ? (
        <p>
          <button type="button" class="link" onClick={() => setBefore(undefined)}>
            Back to the newest
          </button>
        </p>
      ) : null}
      {data.entries.length === 0 ? (
        <p>No change recorded.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">when</th>
              <th scope="col">who</th>
              <th scope="col">did</th>
              <th scope="col">to</th>
              <th scope="col">what changed</th>
            </tr>
          </thead>
          <tbody>
            {data.entries.map((e) => (
              <tr key={e.id}>
                <td>
                  <Time at={e.at} />
                </td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>
                  {e.entityType} <code>{e.entityId?.slice(0, 8)}</code>
                  {serverOf(e) ? (
                    <>
                      {' '}
                      · <a href={`/servers/${serverOf(e)}`}>server</a>
                    </>
                  ) : null}
                </td>
                <td>
                  <ul class="changes">
                    {changesOf(e).map((c) => (
                      <li key={c}>
                        <code>{c}</code>
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data.entries.length === PAGE && last ? (
        <p>
          <button type="button" onClick={() => setBefore(String(last.id))}>
            Older changes
          </button>
        </p>
      ) : null}
    </Page>
  );
}
