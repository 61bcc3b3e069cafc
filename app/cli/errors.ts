import { CommanderError } from 'commander';
import { type CliErrorCode, type CliOwnErrorCode, exitCodeOf, isCliErrorCode } from './error-catalogue.js';

/** An error the CLI shows: a catalogue code and a message; main prints it and exits with the code's exit code. */
export class CliExit extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Ends the command with an error of the catalogue. It throws rather than exits so that the
 * command's database is closed first: a process.exit() here left the embedded PostgreSQL running
 * after every failed command.
 */
export function cliError(code: CliErrorCode, message: string): never {
  throw new CliExit(code, message);
}

/** commander's usage errors, by its codes: all exit 2 (usage), as the convention is. */
const COMMANDER_CODES: Record<string, CliOwnErrorCode> = {
  'commander.unknownCommand': 'UNKNOWN_COMMAND',
  'commander.unknownOption': 'UNKNOWN_OPTION',
  'commander.missingArgument': 'MISSING_ARGUMENT',
  'commander.missingMandatoryOptionValue': 'MISSING_OPTION',
  'commander.optionMissingArgument': 'MISSING_OPTION_VALUE',
  'commander.excessArguments': 'EXCESS_ARGUMENTS',
  'commander.invalidArgument': 'INVALID_OPTION',
  'commander.conflictingOption': 'INVALID_OPTION',
  // a group (`postlog domain`) without a command: commander printed the group's help
  'commander.help': 'MISSING_COMMAND',
};

/**
 * What anything that ended a command means, as a catalogue error; undefined for commander's
 * `--help` and `--version`, which end it with their output and exit code 0.
 */
export function asCliError(err: unknown): CliExit | undefined {
  if (err instanceof CliExit) return err;
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return undefined;
    const code = COMMANDER_CODES[err.code] ?? 'INVALID_OPTION';
    const message =
      code === 'MISSING_COMMAND' ? 'give one of the commands listed above' : err.message.replace(/^error: /, '');
    return new CliExit(code, message);
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  return new CliExit(isCliErrorCode(code) ? code : 'UNEXPECTED', (err as Error)?.message ?? String(err));
}

/** `error CODE: message` on stderr, or one line of JSON with --json; returns the exit code. */
export function printError(error: CliExit, json: boolean): number {
  process.stderr.write(
    json
      ? `${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`
      : `error ${error.code}: ${error.message}\n`,
  );
  return exitCodeOf(error.code);
}
