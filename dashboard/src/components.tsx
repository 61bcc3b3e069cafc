import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api';

/** Loads data for a page; `reload` runs the loader again (after an action). */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
): {
  data: T | undefined;
  error: ApiError | Error | undefined;
  reload: () => void;
} {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError | Error>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(undefined);
    load().then(
      (d) => live && setData(d),
      (e: Error) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : 'ERROR';
  return (
    <p class="error" role="alert">
      <code>{code}</code> {error.message}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return <p aria-busy="true">Loading {what}…</p>;
}

export function Page({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  useEffect(() => {
    document.title = `${title} · Postlog`;
  }, [title]);
  return (
    <section>
      <header class="page-head">
        <h1>{title}</h1>
        {actions ? <div class="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span>—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status.toLowerCase()}`}>{status}</span>;
}

/** Copies a text to the clipboard; `label` names what it copies, for the button's accessible name. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      aria-label={`Copy ${label}`}
      onClick={() =>
        navigator.clipboard.writeText(text).then(
          () => setCopied(true),
          () => setCopied(false),
        )
      }
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

/**
 * An action a page offers (add, remove, revoke): `run` clears the last error, does the work and
 * keeps its error to show; it answers whether the work succeeded.
 */
export function useAction(): { error: Error | undefined; run: (work: () => Promise<unknown>) => Promise<boolean> } {
  const [error, setError] = useState<Error>();
  async function run(work: () => Promise<unknown>): Promise<boolean> {
    setError(undefined);
    try {
      await work();
      return true;
    } catch (err) {
      setError(err as Error);
      return false;
    }
  }
  return { error, run };
}

/** A secret the API shows once: the warning, the value (in a read-only field, to select) and a copy button. */
export function ShownOnce({ what, value, note }: { what: string; value: string; note?: ComponentChildren }) {
  return (
    <div class="card once" role="status">
      <p>
        {note} <strong>Copy the {what} now: it is shown only this once.</strong>
      </p>
      <p class="secret">
        <label>
          {what[0]!.toUpperCase() + what.slice(1)} <input readOnly value={value} size={Math.min(value.length, 80)} />
        </label>{' '}
        <CopyButton text={value} label={what} />
      </p>
    </div>
  );
}

/**
 * The API's complaint about one field, shown next to it; `id` is what the field's aria-describedby
 * names, so a screen reader reads the complaint with the field.
 */
export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <span class="error field-error" id={id}>
      {message}
    </span>
  );
}

/**
 * The note above a form the API refused: when it named fields (shown next to them), a pointer to
 * them; otherwise the error itself.
 */
export function FormError({
  error,
  fields,
  shown,
}: {
  error: Error | undefined;
  fields: Record<string, string>;
  /** The fields the form shows: a complaint about another one is shown here in full. */
  shown: readonly string[];
}) {
  if (!error) return null;
  const marked = Object.keys(fields).filter((f) => shown.includes(f)).length;
  if (marked === 0) return <ErrorNote error={error} />;
  return (
    <p class="error" role="alert">
      Not saved: correct the {marked === 1 ? 'field' : 'fields'} marked in red.
    </p>
  );
}
