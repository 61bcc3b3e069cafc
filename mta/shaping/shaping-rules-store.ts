import { watch, type FSWatcher } from 'node:fs';
import { dirname, basename } from 'node:path';
import type { ShapingRules } from '../../domain/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { describeProblem, loadShapingFiles, SHIPPED_SHAPING_FILE, type ShapingFileProblem } from './shaping-file.js';

/**
 * The shaping rules in force, read again when the operator's file changes or the process gets SIGHUP.
 * A file that does not load keeps the rules in force (the problem is logged and shown in the shaping
 * view); `generation` tells the shaper that limits changed, for the connections it opens next.
 */
export class ShapingRulesStore {
  private current: ShapingRules;
  private files: string[];
  generation = 0;
  loadedAt: Date;
  lastError: { at: Date; problems: ShapingFileProblem[] } | undefined;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private readonly onHangUp = () => this.reload('SIGHUP');

  /** Throws (with every problem named) when the files do not load at start: nothing to fall back on. */
  constructor(
    private readonly operatorFile: string | undefined,
    private readonly logger: Logger,
    private readonly shippedFile = SHIPPED_SHAPING_FILE,
  ) {
    const loaded = loadShapingFiles(operatorFile, shippedFile);
    if (!loaded.ok)
      throw new Error(
        `the shaping rules do not load:\n${loaded.problems.map((p) => `  - ${describeProblem(p)}`).join('\n')}`,
      );
    this.current = loaded.rules;
    this.files = loaded.files;
    this.loadedAt = new Date();
  }

  get rules(): ShapingRules {
    return this.current;
  }

  get sources(): string[] {
    return this.files;
  }

  /** Loads the files again; true when the new rules are in force. */
  reload(why: string): boolean {
    const loaded = loadShapingFiles(this.operatorFile, this.shippedFile);
    if (!loaded.ok) {
      this.lastError = { at: new Date(), problems: loaded.problems };
      this.logger.error(
        { why, problems: loaded.problems.map(describeProblem) },
        'the shaping rules were not reloaded (the rules in force stay)',
      );
      return false;
    }
    this.current = loaded.rules;
    this.files = loaded.files;
    this.loadedAt = new Date();
    this.lastError = undefined;
    this.generation++;
    this.logger.info({ why, files: loaded.files, generation: this.generation }, 'shaping rules reloaded');
    return true;
  }

  /** Reloads on SIGHUP and on changes to the operator's file (its folder is watched: editors replace files). */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    process.on('SIGHUP', this.onHangUp);
    if (!this.operatorFile) return;
    const name = basename(this.operatorFile);
    this.watcher = watch(dirname(this.operatorFile), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.reload(`${name} changed`), 100);
    });
    this.watcher.on('error', (err) => this.logger.warn({ error: err.message }, 'watching the shaping file failed'));
  }
  private watching = false;

  close(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
    if (this.watching) process.off('SIGHUP', this.onHangUp);
    this.watching = false;
  }
}
