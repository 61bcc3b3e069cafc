import { useLocation } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { del, get, post, put } from '../api';
import { ErrorNote, Loading, Page, Time, useAction, useLoad } from '../components';
import { may, useSession } from '../session';
import type { MessageTemplate, Server, TemplateVersion } from '../types';

interface Shown extends MessageTemplate {
  current: TemplateVersion;
  versions: { version: number; createdBy: string; createdAt: string }[];
}
interface Rendered {
  version: number;
  subject: string;
  html: string | null;
  text: string | null;
}

/** One template: write a new version, preview any version with a model, test-send it, read old versions. */
export function TemplatePage({ id }: { id: string }) {
  const session = useSession();
  const action = useAction();
  const { route } = useLocation();
  const { data, error, reload } = useLoad(async () => {
    const template = await get<Shown>(`/v2/templates/${id}`);
    return { template, server: await get<Server>(`/v2/servers/${template.serverId}`) };
  }, [id]);
  const [subject, setSubject] = useState('');
  const [html, setHtml] = useState('');
  const [text, setText] = useState('');
  const [model, setModel] = useState('{}');
  const [version, setVersion] = useState<number>();
  const [rendered, setRendered] = useState<Rendered>();
  const [to, setTo] = useState('');
  const [sent, setSent] = useState<string>();
  useEffect(() => {
    if (!data) return;
    setSubject(data.template.current.subject);
    setHtml(data.template.current.html ?? '');
    setText(data.template.current.text ?? '');
    setVersion(data.template.currentVersion);
  }, [data]);
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the template" />;
  const { template, server } = data;
  const canChange = may(session, server.organizationId, 'member');
  const parsedModel = () => {
    try {
      return JSON.parse(model) as Record<string, unknown>;
    } catch {
      throw new Error('the model is not valid JSON');
    }
  };

  async function save(e: Event) {
    e.preventDefault();
    const body = { subject, html: html || null, text: text || null };
    if (await action.run(() => put(`/v2/templates/${id}`, body))) reload();
  }
  async function preview(e: Event) {
    e.preventDefault();
    setRendered(undefined);
    await action.run(async () =>
      setRendered(await post<Rendered>(`/v2/templates/${id}/preview`, { model: parsedModel(), version })),
    );
  }
  async function testSend() {
    setSent(undefined);
    await action.run(async () => {
      const r = await post<{ id: string }>(`/v2/templates/${id}/test-send`, { to, model: parsedModel(), version });
      setSent(r.id);
    });
  }

  async function remove() {
    if (!confirm(`Delete the template ${template.alias}? Messages sent with it keep their history.`)) return;
    if (await action.run(() => del(`/v2/templates/${id}`))) route(`/servers/${server.id}/templates`);
  }

  return (
    <Page
      title={`Template ${template.alias}`}
      actions={
        canChange ? (
          <button type="button" class="danger" onClick={remove}>
            Delete template
          </button>
        ) : null
      }
    >
      <p>
        <a href={`/servers/${server.id}/templates`}>← templates of {server.name}</a> · current version{' '}
        {template.currentVersion}
      </p>
      {canChange ? (
        <form class="stacked" onSubmit={save} aria-label="New version">
          <label>
            Subject <input required value={subject} onInput={(e) => setSubject(e.currentTarget.value)} />
          </label>
          <label>
            HTML <textarea value={html} onInput={(e) => setHtml(e.currentTarget.value)} />
          </label>
          <label>
            Text <textarea value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <button type="submit">Save as version {template.currentVersion + 1}</button>
        </form>
      ) : null}
      <h2>Preview</h2>
      <form class="stacked" onSubmit={preview} aria-label="Preview">
        <label>
          Version
          <select value={String(version)} onChange={(e) => setVersion(Number(e.currentTarget.value))}>
            {template.versions.map((v) => (
              <option key={v.version} value={String(v.version)}>
                {v.version}
              </option>
            ))}
          </select>
        </label>
        <label>
          Model (JSON) <textarea value={model} onInput={(e) => setModel(e.currentTarget.value)} />
        </label>
        <button type="submit">Preview</button>
        {canChange ? (
          <>
            <label>
              Test-send to <input type="email" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
            </label>
            <button type="button" disabled={!to} onClick={testSend}>
              Send a test
            </button>
          </>
        ) : null}
      </form>
      <ErrorNote error={action.error} />
      {sent ? (
        <p role="status">
          Sent as <a href={`/messages/${sent}`}>message {sent}</a>.
        </p>
      ) : null}
      {rendered ? (
        <section aria-label="Rendered">
          <p>
            <strong>Subject:</strong> {rendered.subject}
          </p>
          {rendered.html !== null ? (
            <iframe class="mail-html" title="Rendered HTML" sandbox="" srcDoc={rendered.html} />
          ) : null}
          {rendered.text !== null ? <pre class="preview">{rendered.text}</pre> : null}
        </section>
      ) : null}
      <h2>Versions</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">version</th>
            <th scope="col">written by</th>
            <th scope="col">at</th>
          </tr>
        </thead>
        <tbody>
          {template.versions.map((v) => (
            <tr key={v.version}>
              <td>{v.version}</td>
              <td>{v.createdBy}</td>
              <td>
                <Time at={v.createdAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
