import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { ErrorNote, Loading, Page, Time, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { may, useSession } from '../session';
import type { MessageTemplate, Server } from '../types';

/** A server's templates (Handlebars, versioned), and a form to write a new one. */
export function Templates({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
  const [alias, setAlias] = useState('');
  const [subject, setSubject] = useState('');
  const [html, setHtml] = useState('');
  const [text, setText] = useState('');
  const { data, error, reload } = useLoad(
    () =>
      Promise.all([
        get<Server>(`/v2/servers/${id}`),
        get<{ templates: MessageTemplate[] }>(`/v2/servers/${id}/templates`),
      ]),
    [id],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="templates" />;
  const [server, { templates }] = data;
  const canChange = may(session, server.organizationId, 'member');

  async function add(e: Event) {
    e.preventDefault();
    const body = { alias, subject, html: html || null, text: text || null };
    if (await action.run(() => post(`/v2/servers/${id}/templates`, body))) {
      setAlias('');
      setSubject('');
      setHtml('');
      setText('');
      reload();
    }
  }

  return (
    <Page title={`Templates · ${server.name}`}>
      <ServerTabs id={id} />
      {templates.length === 0 ? (
        <p>No template yet. Send with one by naming its alias and a model in POST /v2/messages.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">alias</th>
              <th scope="col">name</th>
              <th scope="col">version</th>
              <th scope="col">changed</th>
            </tr>
          </thead>
          <tbody>
            {templates.map((t) => (
              <tr key={t.id}>
                <td>
                  <a href={`/templates/${t.id}`}>{t.alias}</a>
                </td>
                <td>{t.name}</td>
                <td>{t.currentVersion}</td>
                <td>
                  <Time at={t.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canChange ? (
        <form class="stacked" onSubmit={add} aria-label="New template">
          <h2>New template</h2>
          <label>
            Alias{' '}
            <input
              required
              pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
              value={alias}
              onInput={(e) => setAlias(e.currentTarget.value)}
            />
          </label>
          <label>
            Subject <input required value={subject} onInput={(e) => setSubject(e.currentTarget.value)} />
          </label>
          <label>
            HTML <textarea value={html} onInput={(e) => setHtml(e.currentTarget.value)} />
          </label>
          <label>
            Text <textarea value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <button type="submit">Create template</button>
        </form>
      ) : null}
      <ErrorNote error={action.error} />
    </Page>
  );
}
