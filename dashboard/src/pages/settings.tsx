import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { del, fieldErrors, get, patch } from '../api';
import { ErrorNote, FormError, Loading, Page, useAction, useLoad } from '../components';
import { ServerTabs } from '../server-tabs';
import { changesOf, draftOf, SETTINGS_FIELDS, type SettingsDraft } from '../server-settings';
import { may, useSession } from '../session';
import { SettingField } from '../setting-field';
import type { IpPool, Server } from '../types';

/** A server's settings page: what PATCH /v2/servers/{id} changes. Viewers and members read it. */
export function Settings({ id }: { id: string }) {
  const session = useSession();
  const { data, error } = useLoad(
    () => Promise.all([get<Server>(`/v2/servers/${id}`), get<{ pools: IpPool[] }>('/v2/ip-pools')]),
    [id],
  );
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="the server's settings" />;
  const [server, { pools }] = data;
  return (
    <Page title={`Settings · ${server.name}`}>
      <ServerTabs id={id} />
      <SettingsForm key={server.id} server={server} pools={pools} />
      {may(session, server.organizationId, 'admin') ? <ServerActions server={server} /> : null}
    </Page>
  );
}

/** The form; after a save it holds the server as the API answered it (what the API normalized shows). */
function SettingsForm({ server: loaded, pools }: { server: Server; pools: IpPool[] }) {
  const session = useSession();
  const canManage = may(session, loaded.organizationId, 'admin');
  const operator = session.user.globalAdmin;
  const action = useAction();
  const [server, setServer] = useState(loaded);
  const [draft, setDraft] = useState(draftOf(loaded));
  const [saved, setSaved] = useState<string>();
  const errors = fieldErrors(action.error);
  /** The props of one setting's field: its value in the draft, its setter and the API's complaint. */
  const bind = <K extends keyof SettingsDraft>(field: K) => ({
    field,
    value: draft[field],
    set: (v: SettingsDraft[K]) => setDraft((d) => ({ ...d, [field]: v })),
    error: errors[field],
  });

  async function save(e: Event) {
    e.preventDefault();
    setSaved(undefined);
    const changes = changesOf(draft, server);
    if (Object.keys(changes).length === 0) return setSaved('Nothing changed.');
    await action.run(async () => {
      const answer = await patch<Server>(`/v2/servers/${server.id}`, changes);
      setServer(answer);
      setDraft(draftOf(answer));
      setSaved(`Saved: ${Object.keys(changes).join(', ')}.`);
    });
  }

  return (
    <form onSubmit={save} aria-label="Server settings">
      <FormError error={action.error} fields={errors} shown={SETTINGS_FIELDS} />
      {saved ? <p role="status">{saved}</p> : null}
      {canManage ? null : <p class="hint">Only an admin of the organization changes these settings.</p>}
      <fieldset disabled={!canManage} class="plain">
        <fieldset class="settings">
          <legend>General</legend>
          <SettingField kind="text" label="Name" {...bind('name')} />
          <div class="with-error">
            <label>
              Mode
              <select
                value={draft.mode}
                onChange={(e) => setDraft((d) => ({ ...d, mode: e.currentTarget.value as Server['mode'] }))}
              >
                <option value="live">live: messages are delivered</option>
                <option value="development">development: messages are held, never delivered</option>
              </select>
            </label>
          </div>
          <SettingField
            kind="number"
            label="Retention (days)"
            hint="How long message bodies are kept (1 to 3650)."
            {...bind('retentionDays')}
          />
          <SettingField
            kind="check"
            label="Privacy mode"
            hint="No client address or host name in the Received header of submitted mail."
            {...bind('privacyMode')}
          />
          <SettingField
            kind="text"
            label="Postmaster address"
            hint="The From of mail Postlog sends on the server's behalf, at a verified domain. Empty: none."
            {...bind('postmasterAddress')}
          />
          <SettingField
            kind="lines"
            label="Allowed senders"
            hint="Addresses or domains a Sender header may name besides the server's domains, one a line."
            {...bind('allowedSenders')}
          />
        </fieldset>
        <fieldset class="settings">
          <legend>Spam</legend>
          <SettingField
            kind="number"
            label="Inbound spam threshold"
            hint="Incoming mail scoring this or more is spam for the routes' spam modes. Empty: the configured default."
            {...bind('spamThreshold')}
          />
          <SettingField
            kind="number"
            label="Spam failure threshold"
            hint="Incoming mail scoring at or above this is refused whatever the route. Empty: the configured default."
            {...bind('spamFailThreshold')}
          />
          <SettingField
            kind="number"
            label="Outbound spam threshold"
            hint="Messages sent scoring at or above this are held. Empty: not checked."
            {...bind('outboundSpamThreshold')}
          />
        </fieldset>
        <fieldset class="settings">
          <legend>Tracking</legend>
          <SettingField kind="check" label="Track opens" {...bind('trackOpens')} />
          <SettingField kind="check" label="Track clicks" {...bind('trackClicks')} />
          <SettingField
            kind="check"
            label="List-Unsubscribe headers"
            hint="One-click unsubscribe on every message unless the request turns it off."
            {...bind('listUnsubscribe')}
          />
          <SettingField
            kind="lines"
            label="Domains whose links are not tracked"
            hint="One a line."
            {...bind('trackingExcludedDomains')}
          />
        </fieldset>
        <fieldset class="settings" disabled={!operator}>
          <legend>Limits (global admins)</legend>
          <SettingField
            kind="number"
            label="Send limit per hour"
            hint="Messages accepted per hour. Empty: no limit."
            {...bind('sendLimitPerHour')}
          />
          <div class="with-error">
            <label>
              IP pool
              <select
                value={draft.ipPool}
                onChange={(e) => setDraft((d) => ({ ...d, ipPool: e.currentTarget.value }))}
                aria-invalid={errors.ipPool ? true : undefined}
              >
                <option value="">none: the default route</option>
                {pools.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
            </label>
            {errors.ipPool ? <span class="error field-error">{errors.ipPool}</span> : null}
          </div>
          <SettingField
            kind="check"
            label="Suspended"
            hint="A suspended server accepts no mail."
            {...bind('suspended')}
          />
          {draft.suspended ? (
            <SettingField kind="text" label="Reason for the suspension" {...bind('suspendedReason')} />
          ) : null}
        </fieldset>
      </fieldset>
      {canManage ? <button type="submit">Save settings</button> : null}
    </form>
  );
}

/** What is done once rather than set: a new tracking key, and deleting the server. */
function ServerActions({ server }: { server: Server }) {
  const { route } = useLocation();
  const action = useAction();
  const [rotated, setRotated] = useState(false);
  const rotate = async () => {
    setRotated(false);
    if (await action.run(() => patch(`/v2/servers/${server.id}`, { rotateTrackingSecret: true }))) setRotated(true);
  };
  const remove = async () => {
    if (!confirm(`Delete ${server.name}, its domains and credentials? Its message history stays.`)) return;
    if (await action.run(() => del(`/v2/servers/${server.id}`))) route('/');
  };
  return (
    <section aria-labelledby="server-actions" class="card">
      <h2 id="server-actions">Actions</h2>
      <p>
        <button type="button" onClick={rotate}>
          Rotate tracking key
        </button>{' '}
        <button type="button" class="danger" onClick={remove}>
          Delete server
        </button>
      </p>
      {rotated ? (
        <p role="status">A new key signs tracking links from now on; links already sent keep working.</p>
      ) : null}
      <ErrorNote error={action.error} />
    </section>
  );
}
