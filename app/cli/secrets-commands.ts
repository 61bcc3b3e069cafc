import type { Command } from 'commander';
import type pg from 'pg';
import type { Config } from '../../infra/config/index.js';
import type { Logger } from '../../infra/logging/index.js';
import {
  addKeyToFile,
  ROTATION_GRACE_MS,
  resealSecrets,
  sealedKeyCounts,
  sealPlaintextSecrets,
  secretKeyId,
  type SecretBox,
} from '../../infra/secrets/index.js';
import { sealedColumns, secretBoxOf } from '../services.js';
import { cliError } from './errors.js';
import { printJson, record, table } from './output.js';

type WithPool = (work: (pool: pg.Pool, config: Config, logger: Logger) => Promise<void>) => Promise<void>;

/** How the keys are given, for the reports: the data dir's key file, or the configuration. */
const keySource = (config: Config) =>
  config.secretsKey === undefined ? `the key file in ${config.dataDir}` : 'POSTLOG_SECRETS_KEY';

/**
 * `postlog secrets …`: the key that seals stored secrets (docs/operations.md, "Secrets").
 * `rotate` makes a new key current and re-seals every value under it while Postlog runs.
 */
export function registerSecretsCommands(program: Command, withPool: WithPool): void {
  const secrets = program.command('secrets').description('the key that seals stored secrets (DKIM keys, …)');

  secrets
    .command('status')
    .description('which keys sealed how many stored secrets, of each kind')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) =>
      withPool(async (pool, config, logger) => {
        const box = secretBoxOf(config, logger);
        const counts = (await sealedKeyCounts(pool, sealedColumns)).map((c) => ({
          ...c,
          state: c.keyId === null ? 'plaintext' : c.keyId === box.keyId ? 'current' : stateOf(box, c.keyId),
        }));
        if (opts.json) return printJson({ currentKeyId: box.keyId, configuredKeyIds: box.keyIds, counts });
        process.stdout.write(
          `${record(`Secrets are sealed with key ${box.keyId} (${keySource(config)})`, [
            ['keys that open', box.keyIds.join(', ')],
          ])}\n${table(
            counts,
            [
              { header: 'secrets', value: (c) => c.what },
              { header: 'key', value: (c) => c.keyId ?? '(plaintext: sealed at the next start)' },
              { header: 'count', value: (c) => c.count },
              { header: 'state', value: (c) => c.state },
            ],
            'No stored secrets yet.',
          )}`,
        );
      }),
    );

  secrets
    .command('rotate')
    .description(
      'make a new key current (key file: made here; POSTLOG_SECRETS_KEY: the one configured) and re-seal every ' +
        'stored secret under it, in small batches, while Postlog runs',
    )
    .option('--batch <n>', 'rows re-sealed per batch', '100')
    .option('--json', 'print JSON')
    .action(async (opts: { batch: string; json?: boolean }) => {
      const batchSize = Number(opts.batch);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
        cliError('INVALID_OPTION', '--batch must be a number from 1 to 10000');
      await withPool(async (pool, config, logger) => {
        // a value no configured key opens (a wrong or lost key): nothing is changed, not even a key added
        const known = secretBoxOf(config, logger).keyIds;
        const missing = (await sealedKeyCounts(pool, sealedColumns)).filter(
          (c) => c.keyId !== null && !known.includes(c.keyId),
        );
        if (missing.length > 0)
          cliError(
            'SECRETS_UNREADABLE',
            `${missing.reduce((n, c) => n + c.count, 0)} stored secrets are sealed with keys not configured ` +
              `(${[...new Set(missing.map((c) => c.keyId))].join(', ')}): nothing was changed`,
          );
        // with the key file, the new key goes on top of it; running processes read it again (SecretBox)
        const added = config.secretsKey === undefined ? addKeyToFile({ dataDir: config.dataDir, logger }) : undefined;
        const box = secretBoxOf(config, logger);
        if (added && secretKeyId(added) !== box.keyId) throw new Error('the new key did not become current');
        const sealed = await sealPlaintextSecrets(pool, box, sealedColumns);
        const progress = (done: number) => {
          if (!opts.json) process.stderr.write(`re-sealed ${done} so far\n`);
        };
        const first = await resealSecrets(pool, box, sealedColumns, { batchSize, onBatch: progress });
        // a seal begun under the old key just before the file changed is written by then: a last pass
        if (added) await new Promise((r) => setTimeout(r, ROTATION_GRACE_MS));
        const last = await resealSecrets(pool, box, sealedColumns, { batchSize });
        const unreadable = last.unreadable;
        const report = {
          keyId: box.keyId,
          newKey: added !== undefined,
          resealed: first.resealed + last.resealed,
          sealedFromPlaintext: sealed,
          unreadable: unreadable.length,
          keysThatOpen: box.keyIds,
        };
        if (opts.json) printJson(report);
        else
          process.stdout.write(
            record(
              `Secrets are now sealed with key ${box.keyId}`,
              [
                ['re-sealed', report.resealed],
                ['sealed from plaintext', sealed],
                ['unreadable', unreadable.length],
                ['older keys', box.keyIds.slice(1).join(', ') || undefined],
              ],
              [
                added
                  ? 'The old keys stay in the key file: backups of the database need them. Back up the key file now.'
                  : 'Keep the old keys in POSTLOG_SECRETS_PREVIOUS_KEYS while backups that need them exist.',
              ],
            ),
          );
        if (unreadable.length > 0)
          cliError(
            'SECRETS_UNREADABLE',
            `${unreadable.length} stored secrets do not open with any configured key (${[
              ...new Set(unreadable.map((u) => u.what)),
            ].join(', ')}): left as they are`,
          );
      });
    });
}

const stateOf = (box: SecretBox, keyId: string) => (box.keyIds.includes(keyId) ? 'older key' : 'KEY MISSING');
