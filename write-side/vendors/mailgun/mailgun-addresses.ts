/**
 * The entries of Mailgun's address fields: each value may itself be a comma-separated list
 * ("Bob <bob@host.com>, ann@host.com"); commas inside a quoted display name or angle brackets do not split.
 */
export function addressEntries(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    let start = 0;
    let quoted = false;
    let angle = false;
    for (let i = 0; i <= value.length; i++) {
      const c = value[i];
      if (c === '\\' && quoted) i++;
      else if (c === '"') quoted = !quoted;
      else if (c === '<' && !quoted) angle = true;
      else if (c === '>' && !quoted) angle = false;
      else if ((c === ',' || c === undefined) && !quoted && !angle) {
        const entry = value.slice(start, i).trim();
        if (entry) out.push(entry);
        start = i + 1;
      }
    }
  }
  return out;
}
