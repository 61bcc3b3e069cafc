import { useState } from 'preact/hooks';
import { get, post, put } from '../api';
import { ErrorNote, Loading, Page, ShownOnce, useAction, useLoad } from '../components';
import { may, type OrgRole, type Session, useSession } from '../session';
import type { Organization, User } from '../types';

const ROLES: OrgRole[] = ['viewer', 'member', 'admin'];

/** Whether the Users page is for this session: global admins and the admins of an organization. */
export const managesUsers = (session: Session) =>
  session.user.globalAdmin || session.memberships.some((m) => m.role === 'admin');

/** Dashboard users with their roles: invite one, change a role, disable (global admins). */
export function Users() {
  const session = useSession();
  const action = useAction();
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([get<{ users: User[] }>('/v2/users'), get<{ organizations: Organization[] }>('/v2/organizations')]),
    [],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="users" />;
  const [{ users }, { organizations }] = data;
  const administered = organizations.filter((o) => may(session, o.id, 'admin'));
  const disable = async (u: User) => {
    if (!confirm(`Disable ${u.email}? Their sessions end and they cannot log in.`)) return;
    if (await action.run(() => post(`/v2/users/${u.id}/disable`))) reload();
  };

  return (
    <Page title="Users">
      {administered.length ? <Invite organizations={administered} onInvited={reload} /> : null}
      <ErrorNote error={action.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">email</th>
            <th scope="col">roles</th>
            <th scope="col">second factor</th>
            <th scope="col">state</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <td>{u.email}</td>
              <td>
                {u.globalAdmin ? <p>global admin</p> : null}
                {u.memberships.map((m) => (
                  <RoleOf key={m.organizationId} user={u} membership={m} onChange={reload} />
                ))}
              </td>
              <td>{u.totpEnabled ? 'on' : 'off'}</td>
              <td>
                {u.disabled ? (
                  'disabled'
                ) : session.user.globalAdmin && u.id !== session.user.id ? (
                  <button type="button" class="danger" aria-label={`Disable ${u.email}`} onClick={() => disable(u)}>
                    Disable
                  </button>
                ) : (
                  'active'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

/** A user's role in one organization; its admins can change it. */
function RoleOf({
  user,
  membership,
  onChange,
}: {
  user: User;
  membership: User['memberships'][number];
  onChange: () => void;
}) {
  const session = useSession();
  const action = useAction();
  const [role, setRole] = useState(membership.role);
  const where = `${membership.organizationName}`;
  if (!may(session, membership.organizationId, 'admin'))
    return (
      <p>
        {membership.role} in {where}
      </p>
    );
  async function save(e: Event) {
    e.preventDefault();
    const path = `/v2/users/${user.id}/organizations/${membership.organizationId}`;
    if (await action.run(() => put(path, { role }))) onChange();
  }
  return (
    <form class="inline" onSubmit={save}>
      <label>
        <span class="sr-only">
          Role of {user.email} in {where}
        </span>
        <select value={role} onChange={(e) => setRole(e.currentTarget.value as OrgRole)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>{' '}
      in {where}{' '}
      {role !== membership.role ? (
        <button type="submit" aria-label={`Save the role of ${user.email} in ${where}`}>
          Save
        </button>
      ) : null}
      <ErrorNote error={action.error} />
    </form>
  );
}

/** Invites someone: the answer's link is shown once, and whether Postlog mailed it. */
function Invite({ organizations, onInvited }: { organizations: Organization[]; onInvited: () => void }) {
  const action = useAction();
  const [email, setEmail] = useState('');
  const [organizationId, setOrganizationId] = useState(organizations[0]?.id ?? '');
  const [role, setRole] = useState<OrgRole>('viewer');
  const [invited, setInvited] = useState<{ email: string; inviteUrl: string | null; invitationSent: boolean }>();

  async function invite(e: Event) {
    e.preventDefault();
    setInvited(undefined);
    await action.run(async () => {
      const answer = await post<{ user: User; inviteUrl: string | null; invitationSent: boolean }>('/v2/users', {
        email,
        organizationId,
        role,
      });
      setInvited({ email: answer.user.email, inviteUrl: answer.inviteUrl, invitationSent: answer.invitationSent });
      setEmail('');
      onInvited();
    });
  }

  return (
    <>
      <form class="search" onSubmit={invite} aria-label="Invite a user">
        <label>
          Email to invite <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Organization
          <select value={organizationId} onChange={(e) => setOrganizationId(e.currentTarget.value)}>
            {organizations.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as OrgRole)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Invite</button>
      </form>
      <ErrorNote error={action.error} />
      {invited?.inviteUrl ? (
        <ShownOnce
          what="invitation link"
          value={invited.inviteUrl}
          note={`${invited.email} is invited. ${
            invited.invitationSent
              ? 'The link was mailed to them.'
              : 'The link was not mailed (account mail is not set up): send it to them yourself.'
          } It works once.`}
        />
      ) : null}
    </>
  );
}
