import { FieldError } from './components';

type Common = {
  /** The API's name of the setting: the field's id, and how the API names it in an error. */
  field: string;
  label: string;
  /** The API's complaint about it, if it refused the last save. */
  error: string | undefined;
  /** What an empty field or the setting means, under the field. */
  hint?: string;
};

/**
 * One setting of a settings form: its label, the field, a hint under it and the API's complaint
 * next to it (both read with the field, through aria-describedby).
 */
export function SettingField(
  props: Common &
    (
      | { kind: 'text' | 'number'; value: string; set: (v: string) => void }
      | { kind: 'lines'; value: string; set: (v: string) => void }
      | { kind: 'check'; value: boolean; set: (v: boolean) => void }
    ),
) {
  const id = `setting-${props.field}`;
  const described = [props.hint ? `${id}-hint` : '', props.error ? `${id}-error` : ''].filter(Boolean).join(' ');
  const aria = { id, 'aria-describedby': described || undefined, 'aria-invalid': props.error ? true : undefined };
  const control =
    props.kind === 'check' ? (
      <label class="check" htmlFor={id}>
        <input type="checkbox" checked={props.value} onChange={(e) => props.set(e.currentTarget.checked)} {...aria} />
        {props.label}
      </label>
    ) : (
      <label htmlFor={id}>
        {props.label}
        {props.kind === 'lines' ? (
          <textarea value={props.value} onInput={(e) => props.set(e.currentTarget.value)} {...aria} />
        ) : props.kind === 'number' ? (
          // no min or max: the API's rule is the one that counts, and its complaint is shown here
          <input
            type="number"
            step="any"
            value={props.value}
            onInput={(e) => props.set(e.currentTarget.value)}
            {...aria}
          />
        ) : (
          <input type="text" value={props.value} onInput={(e) => props.set(e.currentTarget.value)} {...aria} />
        )}
      </label>
    );
  return (
    <div class="with-error">
      {control}
      {props.hint ? (
        <span class="hint" id={`${id}-hint`}>
          {props.hint}
        </span>
      ) : null}
      <FieldError id={`${id}-error`} message={props.error} />
    </div>
  );
}
