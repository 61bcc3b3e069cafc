import { WEBHOOK_EVENTS } from './webhook-events';

/** The events an endpoint is sent, as checkboxes; none ticked means every event (the API's null). */
export function EventPicker({ chosen, onChange }: { chosen: Set<string>; onChange: (next: Set<string>) => void }) {
  const tick = (name: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    onChange(next);
  };
  return (
    <fieldset class="events">
      <legend>Events (none ticked: every event)</legend>
      {WEBHOOK_EVENTS.map((name) => (
        <label key={name}>
          <input type="checkbox" checked={chosen.has(name)} onChange={(e) => tick(name, e.currentTarget.checked)} />{' '}
          {name}
        </label>
      ))}
    </fieldset>
  );
}

/** The API's `events` for a choice: the ticked events in their usual order, or null for every event. */
export const eventsOf = (chosen: Set<string>): string[] | null =>
  chosen.size ? WEBHOOK_EVENTS.filter((n) => chosen.has(n)) : null;
