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
}

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
  return result.data!;
}
