import { useState } from 'preact/hooks';
import type { RouteEndpoint, RouteMode, SpamMode } from './types';

export type EndpointDraft = Pick<RouteEndpoint, 'kind' | 'target' | 'format' | 'includeAttachments' | 'stripReplies'>;

export const MODES: [RouteMode, string][] = [
  ['endpoint', 'Endpoint: hand to the endpoints'],
  ['accept', 'Accept: store only'],
  ['hold', 'Hold: until released'],
  ['bounce', 'Bounce: refuse after DATA (kept)'],
  ['reject', 'Reject: refuse at RCPT'],
];
export const SPAM_MODES: [SpamMode, string][] = [
  ['mark', 'Mark spam, pass it on'],
  ['quarantine', 'Quarantine (hold) spam'],
  ['fail', 'Refuse spam'],
];
const PLACEHOLDER: Record<EndpointDraft['kind'], string> = {
  http: 'https://app.example.com/inbound',
  smtp: 'mail.example.net:25',
  address: 'team@example.org',
};

export const blankEndpoint = (): EndpointDraft => ({
  kind: 'http',
  target: '',
  format: 'json',
  includeAttachments: true,
  stripReplies: false,
});

/** The endpoints of a route being written: one fieldset each, added and removed in place. */
export function EndpointFields({
  endpoints,
  onChange,
}: {
  endpoints: EndpointDraft[];
  onChange: (endpoints: EndpointDraft[]) => void;
}) {
  const set = (i: number, change: Partial<EndpointDraft>) =>
    onChange(endpoints.map((e, j) => (j === i ? { ...e, ...change } : e)));
  return (
    <>
      {endpoints.map((e, i) => (
        <fieldset key={i} class="endpoint">
          <legend>Endpoint {i + 1}</legend>
          <label>
            Kind
            <select value={e.kind} onChange={(ev) => set(i, { kind: ev.currentTarget.value as EndpointDraft['kind'] })}>
              <option value="http">HTTP</option>
              <option value="smtp">SMTP server</option>
              <option value="address">address (through Postlog)</option>
            </select>
          </label>
          <label>
            Target{' '}
            <input
              required
              value={e.target}
              placeholder={PLACEHOLDER[e.kind]}
              onInput={(ev) => set(i, { target: ev.currentTarget.value })}
            />
          </label>
          {e.kind === 'http' ? (
            <>
              <label>
                Format
                <select
                  value={e.format}
                  onChange={(ev) => set(i, { format: ev.currentTarget.value as EndpointDraft['format'] })}
                >
                  <option value="json">JSON (parsed)</option>
                  <option value="form">form (parsed)</option>
                  <option value="raw">raw message</option>
                </select>
              </label>
              <label>
                <input
                  type="checkbox"
                  checked={e.includeAttachments}
                  onChange={(ev) => set(i, { includeAttachments: ev.currentTarget.checked })}
                />{' '}
                attachments
              </label>
              <label>
                <input
                  type="checkbox"
                  checked={e.stripReplies}
                  onChange={(ev) => set(i, { stripReplies: ev.currentTarget.checked })}
                />{' '}
                strip quoted replies
              </label>
            </>
          ) : null}
          <button
            type="button"
            class="secondary"
            aria-label={`Remove endpoint ${i + 1}`}
            onClick={() => onChange(endpoints.filter((_, j) => j !== i))}
          >
            Remove
          </button>
        </fieldset>
      ))}
      <button type="button" class="secondary" onClick={() => onChange([...endpoints, blankEndpoint()])}>
        Add an endpoint
      </button>
    </>
  );
}

/** Mode and spam mode selects, shared by the new-route form and the route page. */
export function ModeFields(p: {
  mode: RouteMode;
  spamMode: SpamMode;
  onMode: (m: RouteMode) => void;
  onSpamMode: (m: SpamMode) => void;
}) {
  return (
    <>
      <label>
        Mode
        <select value={p.mode} onChange={(e) => p.onMode(e.currentTarget.value as RouteMode)}>
          {MODES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Spam
        <select value={p.spamMode} onChange={(e) => p.onSpamMode(e.currentTarget.value as SpamMode)}>
          {SPAM_MODES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

export function useRouteDraft() {
  const [mode, setMode] = useState<RouteMode>('endpoint');
  const [spamMode, setSpamMode] = useState<SpamMode>('mark');
  const [endpoints, setEndpoints] = useState<EndpointDraft[]>([blankEndpoint()]);
  return { mode, setMode, spamMode, setSpamMode, endpoints, setEndpoints };
}
