import { useState } from 'preact/hooks';
import { del, get, post } from '../api';
import { ErrorNote, Loading, Page, ShownOnce, Time, useAction, useLoad } from '../components';
import { may, useSession } from '../session';
import type { AdminToken, Organization } from '../types';

/**
 * Tokens for the management API (scripts, CI): an organization's admin makes and revokes its
 * organization's, a global admin also global ones. The token is shown once; a revoked one is refused.
 */
export function AdminTokens() {
  const session = useSession();
  const action = useAction();
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<string>();
  const [created, setCreated] = useState<string>();
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        get<{ adminTokens: AdminToken[] }>('/v2/admin-tokens'),
        get<{ organizations: Organization[] }>('/v2/organizations'),
      ]),
    [],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="admin tokens" />;
  const [{ adminTokens }, { organizations: all }] = data;
  const organizations = all.filter((o) => may(session, o.id, 'admin'));
  // '' is a global token (global admins only)
  const organizationId = chosen ?? organizations[0]?.id ?? '';
  const orgName = (id: string | null) => (id === null ? 'global' : (all.find((o) => o.id === id)?.name ?? id));

  async function create(e: Event) {
    e.preventDefault();
    setCreated(undefined);
    const body = { ...(name.trim() ? { name: name.trim() } : {}), organizationId: organizationId || null };
    await action.run(async () => {
      setCreated((await post<{ secret: string }>('/v2/admin-tokens', body)).secret);
      setName('');
      reload();
    });
  }
  const revoke = async (t: AdminToken) => {
    if (!confirm(`Revoke the admin token "${t.name}"? Programs using it are refused from now on.`)) return;
    if (await action.run(() => del(`/v2/admin-tokens/${t.id}`))) reload();
  };

  return (
    <Page title="Admin tokens">
      <form class="search" onSubmit={create} aria-label="Create an admin token">
        <label>
          Name <input value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          For
          <select value={organizationId} onChange={(e) => setChosen(e.currentTarget.value)}>
            {organizations.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
            {session.user.globalAdmin ? <option value="">every organization (global)</option> : null}
          </select>
        </label>
        <button type="submit">Create admin token</button>
      </form>
      <ErrorNote error={action.error} />
      {created ? <ShownOnce what="admin token" value={created} /> : null}
      {adminTokens.length === 0 ? (
        <p>No admin token.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">name</th>
              <th scope="col">for</th>
              <th scope="col">starts with</th>
              <th scope="col">created</th>
              <th scope="col">state</th>
            </tr>
          </thead>
          <tbody>
            {adminTokens.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{orgName(t.organizationId)}</td>
                <td>
                  <code>{t.tokenPrefix}</code>
                </td>
                <td>
                  <Time at={t.createdAt} />
                </td>
                <td>
                  {t.revoked ? (
                    'revoked'
                  ) : (
                    <button type="button" class="danger" aria-label={`Revoke ${t.name}`} onClick={() => revoke(t)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
