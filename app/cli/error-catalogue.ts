import { HTTP_ERRORS, type HttpErrorCode } from '../../infra/http/error-catalogue.js';

/** Exit code of a usage error (a bad argument, option or configuration): the Unix convention. */
export const USAGE = 2;
/** Exit code of a command that ran and failed. */
export const FAILED = 1;

/**
 * Every error code the `postlog` command shows of its own, with its exit code and what it means
 * (infra/http/error-catalogue.ts is the model). An error is printed as `error CODE: message` on
 * stderr, or `{"error":{"code","message"}}` with --json. The CLI also shows the HTTP API's codes
 * (exit 1) where it goes through the API's routes or the stores behind them (send, create, …).
 * `cliError` takes a code of these two catalogues and nothing else, so a code missing here does not
 * compile; test/unit/cli-error-catalogue.test.ts checks the codes the sources name, and writes the
 * CLI section of docs/errors.md.
 */
export const CLI_ERRORS = {
  UNKNOWN_COMMAND: { exit: USAGE, means: 'no such command (`postlog --help` lists them)' },
  MISSING_COMMAND: {
    exit: USAGE,
    means: 'a group of commands (`postlog domain`, …) was given without one of its commands; its help lists them',
  },
  UNKNOWN_OPTION: { exit: USAGE, means: 'the command has no such option (`postlog <command> --help`)' },
  MISSING_ARGUMENT: { exit: USAGE, means: 'a required argument is missing (`postlog org create <name>`)' },
  MISSING_OPTION: { exit: USAGE, means: 'a required option is missing (`--server <id>`, …)' },
  MISSING_OPTION_VALUE: { exit: USAGE, means: 'an option was given without its value' },
  EXCESS_ARGUMENTS: { exit: USAGE, means: 'more arguments than the command takes' },
  INVALID_OPTION: {
    exit: USAGE,
    means: 'an option value that is not allowed (a port that is no number, `--kind` other than api or smtp, …)',
  },
  INVALID_ID: { exit: USAGE, means: 'an id that is not a UUID: `--server`, `--org`, a credential or domain id' },
  INVALID_CONFIG: {
    exit: USAGE,
    means: 'the configuration (`POSTLOG_*` variables, postlog.yaml) is invalid; every problem is listed',
  },
  UNKNOWN_PROJECTION: { exit: USAGE, means: 'no projection of that name (`postlog projections status` lists them)' },
  ALREADY_INITIALISED: {
    exit: USAGE,
    means: '`postlog init` on a data dir with an organization; the message says how to add more (`--force` anyway)',
  },
  USER_EXISTS: { exit: FAILED, means: 'a user with this email exists already; nothing was changed' },
  USER_NOT_FOUND: { exit: FAILED, means: 'no user with this email (`postlog user list`)' },
  DOMAIN_EXISTS: { exit: FAILED, means: 'the server has this domain already; nothing was changed' },
  DOMAIN_NOT_FOUND: { exit: FAILED, means: 'the server has no such domain (by name or id)' },
  DOMAIN_NOT_VERIFIED: {
    exit: FAILED,
    means: '`domain verify` did not find the verification TXT record (yet): publish it and run it again',
  },
  PROJECTIONS_DIFFER: {
    exit: FAILED,
    means: '`projections verify` found rows that differ from a rebuild from the log (`projections rebuild`)',
  },
  RETENTION_BUSY: { exit: FAILED, means: 'another Postlog process is running retention right now; try again later' },
  TLS_REPORTS_BUSY: {
    exit: FAILED,
    means: '`tls-reports send`: another Postlog process is sending TLS reports right now; try again later',
  },
  TLS_REPORTS_FAILED: {
    exit: FAILED,
    means: '`tls-reports send`: a report could not be sent (listed with why); a later run tries it again',
  },
  BLOCKLIST_CHECK_BUSY: {
    exit: FAILED,
    means: 'another Postlog process is checking the blocklists right now; try again in a minute',
  },
  SCHEMAS_OUT_OF_DATE: {
    exit: FAILED,
    means: '`schemas --check`: the event schema files differ from what this version writes',
  },
  POSTAL_UNREADABLE: {
    exit: FAILED,
    means: '`import postal` cannot read the Postal database (unreachable, or not Postal 3.x); nothing was changed',
  },
  POSTAL_IMPORT_INCOMPLETE: {
    exit: FAILED,
    means:
      '`import postal` could not create some records (listed with why); the rest was imported, rerun it after a fix',
  },
  PORTS_UNAVAILABLE: {
    exit: FAILED,
    means: '`start` or `dev-sink` cannot listen: every port that is taken (or given twice) is listed with its setting',
  },
  START_FAILED: { exit: FAILED, means: '`postlog start` could not start; its log says why' },
  BACKUP_FILE_EXISTS: { exit: USAGE, means: '`backup --out`: the file exists; a backup never overwrites one' },
  NOTHING_TO_BACK_UP: { exit: FAILED, means: '`backup`: the database has no Postlog schema (wrong database?)' },
  BACKUP_UNREADABLE: {
    exit: FAILED,
    means: '`restore`: the file is missing, not a Postlog backup, damaged or truncated; nothing was restored',
  },
  BACKUP_TOO_NEW: {
    exit: FAILED,
    means: '`restore`: the backup is of a newer schema than this Postlog knows; restore it with a newer Postlog',
  },
  RESTORE_TARGET_NOT_EMPTY: {
    exit: FAILED,
    means: '`restore`: the data dir or external database holds a database already; restore into an empty one',
  },
  SECRETS_UNREADABLE: {
    exit: FAILED,
    means:
      'stored secrets sealed with a key that is not configured (`postlog secrets status`): they were left as they ' +
      'are; restore the key (secrets.key or POSTLOG_SECRETS_PREVIOUS_KEYS) and run the command again',
  },
  UNEXPECTED: {
    exit: FAILED,
    means: 'an error Postlog did not expect (a database it cannot reach, a fault): the message says what',
  },
} as const satisfies Record<string, { exit: number; means: string }>;

export type CliOwnErrorCode = keyof typeof CLI_ERRORS;
/** A code the CLI may show: its own, or the HTTP API's (whose routes and stores it uses). */
export type CliErrorCode = CliOwnErrorCode | HttpErrorCode;

export const isCliErrorCode = (code: unknown): code is CliErrorCode =>
  typeof code === 'string' && (Object.hasOwn(CLI_ERRORS, code) || Object.hasOwn(HTTP_ERRORS, code));

/** The exit code of an error: the catalogue's; 1 for the HTTP API's codes. */
export const exitCodeOf = (code: CliErrorCode): number =>
  Object.hasOwn(CLI_ERRORS, code) ? CLI_ERRORS[code as CliOwnErrorCode].exit : FAILED;

/** The CLI section of docs/errors.md, written from the catalogue. */
export function cliErrorCatalogueMarkdown(): string {
  const rows = Object.entries(CLI_ERRORS).map(([code, e]) => `| \`${code}\` | ${e.exit} | ${e.means} |`);
  return [
    '## CLI error codes',
    '',
    'The `postlog` command prints an error as `error CODE: message` on stderr, or as one line of JSON',
    '`{"error":{"code","message"}}` with `--json`, and exits with the code below: 2 for a usage error, 1 for a',
    'command that ran and failed. Commands that go through the HTTP API (`send`, `messages list`) or the stores',
    'behind it (`create`, `domain`, …) also show the HTTP codes above, with exit code 1. This section is',
    'generated from `app/cli/error-catalogue.ts`.',
    '',
    '| code | exit | meaning |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
