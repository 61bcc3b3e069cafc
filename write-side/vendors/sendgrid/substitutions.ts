/**
 * SendGrid's `substitutions`: each key is replaced literally wherever it occurs (the key carries its own
 * wrappers, e.g. `-name-` or `{{name}}` as its clients write them), in one pass, so a value that
 * contains another key is not replaced again. Values go in as they are, also into HTML, as SendGrid does.
 * Longer keys are tried first, so `-name-first-` is not taken for `-name-`.
 */
export function substituteLiterally(text: string, substitutions: Record<string, string>): string {
  const keys = Object.keys(substitutions).sort((a, b) => b.length - a.length);
  if (keys.length === 0) return text;
  const pattern = new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return text.replace(pattern, (key) => substitutions[key] ?? key);
}
