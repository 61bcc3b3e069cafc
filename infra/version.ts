import { readFileSync } from 'node:fs';

/** The package version, read once (dist/infra/version.js → ../../package.json). */
export const version: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return '0.0.0';
  }
})();
