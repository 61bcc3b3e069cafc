import { get } from '../api';
import { ErrorNote, Loading, Page, Time, useLoad } from '../components';

interface Status {
  name: string;
  version: number | null;
  position: number | null;
  headPosition: number | null;
  lagEvents: number | null;
  lagSeconds: number;
  updatedAt: string | null;
  lastError: string | null;
  errorAt: string | null;
}

/** Every read model built from the log: how far it is, how far behind, and its last error (global admins). */
export function Projections() {
  const { data, error, reload } = useLoad(() => get<{ projections: Status[] }>('/v2/projections'), []);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the read models" />;
  return (
    <Page
      title="Read models"
      actions={
        <button type="button" onClick={reload}>
          Refresh
        </button>
      }
    >
      <p>
        Every read model is a projection of the event log. A lag that keeps growing, or an error, means one is stuck:{' '}
        <code>postlog projections status</code> says the same, <code>postlog projections rebuild</code> rebuilds one.
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">projection</th>
            <th scope="col">version</th>
            <th scope="col">position</th>
            <th scope="col">behind (events)</th>
            <th scope="col">behind (seconds)</th>
            <th scope="col">updated</th>
            <th scope="col">last error</th>
          </tr>
        </thead>
        <tbody>
          {data.projections.map((p) => (
            <tr key={p.name}>
              <td>{p.name}</td>
              <td>{p.version ?? '—'}</td>
              <td>
                {p.position ?? '—'} of {p.headPosition ?? '—'}
              </td>
              <td>{p.lagEvents ?? '—'}</td>
              <td>{p.lagSeconds.toFixed(1)}</td>
              <td>
                <Time at={p.updatedAt} />
              </td>
              <td class={p.lastError ? 'error' : ''}>{p.lastError ? `${p.lastError} (since ${p.errorAt})` : 'none'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
