import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, configKeys, crossSettingProblems, envNameOf, type Config } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Path of the YAML file; default POSTLOG_CONFIG or ./postlog.yaml when it exists. */
  file?: string;
  /** Values that win over everything else (CLI flags). */
  overrides?: Partial<Record<keyof Config, unknown>>;
  /** Receives what is allowed but probably not meant (a misspelt variable, a short host name). */
  warnings?: string[];
}

/** POSTLOG_* variables that are not settings: read by the CLI and the supervisor, or by the test suite. */
const NOT_SETTINGS = new Set(['POSTLOG_CONFIG', 'POSTLOG_PROCESS_NAME', 'POSTLOG_DATABASE_KIND']);

/**
 * Reads postlog.yaml (if any), then POSTLOG_* environment variables (they win), and validates
 * the result. Every problem is reported at once, named by the variable the operator would set.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};

  const file = options.file ?? env.POSTLOG_CONFIG ?? (existsSync('postlog.yaml') ? 'postlog.yaml' : undefined);
  if (file !== undefined) {
    try {
      const parsed: unknown = parseYaml(readFileSync(resolve(file), 'utf8'));
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) {
          problems.push(`${file}: must be a mapping of settings`);
        } else {
          for (const [key, value] of Object.entries(parsed)) {
            if (!(configKeys as string[]).includes(key)) {
              problems.push(`${file}: unknown setting "${key}" (known: ${configKeys.join(', ')})`);
              continue;
            }
            if (value === null) continue; // `key:` with nothing after it means: use the default
            raw[key] = value;
            source[key] = `${key} in ${file}`;
          }
        }
      }
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }

  for (const key of configKeys) {
    const value = env[envNameOf(key)];
    if (value !== undefined && value !== '') {
      raw[key] = value;
      source[key] = envNameOf(key);
    }
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) {
      raw[key] = value;
      source[key] = `--${key}`;
    }
  }

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      const name = source[key] ?? envNameOf(key);
      const shown = raw[key] === undefined ? '' : ` (got ${JSON.stringify(raw[key])})`;
      problems.push(`${name}: ${issue.message}${shown}`);
    }
  }
  if (result.success) problems.push(...crossSettingProblems(result.data, source));
  if (problems.length > 0) throw new ConfigError(problems);
  options.warnings?.push(...settingWarnings(env, result.data!, source));
  return result.data!;
}

/** Settings that load but are likely mistakes, said once at start-up. */
function settingWarnings(env: NodeJS.ProcessEnv, config: Config, source: Record<string, string>): string[] {
  const warnings: string[] = [];
  const known = configKeys.map(envNameOf);
  for (const name of Object.keys(env)) {
    if (
      !name.startsWith('POSTLOG_') ||
      known.includes(name) ||
      NOT_SETTINGS.has(name) ||
      name.startsWith('POSTLOG_TEST_')
    )
      continue;
    const closest = known.reduce((best, k) => (distance(name, k) < distance(name, best) ? k : best), known[0]!);
    const hint = distance(name, closest) <= 3 ? `; did you mean ${closest}?` : '';
    warnings.push(`${name} is not a Postlog setting and is ignored${hint}`);
  }
  if (!config.hostname.includes('.'))
    warnings.push(
      `${source.hostname ?? 'the host name'} "${config.hostname}" is not a fully qualified domain name: EHLO, ` +
        `Message-IDs and the DNS records Postlog proposes (include:spf.${config.hostname}) need one; set POSTLOG_HOSTNAME`,
    );
  return warnings;
}

/** Levenshtein distance, for "did you mean" (names are short: the quadratic table is fine). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length]!;
}
