import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generate } from 'selfsigned';
import type { Logger } from '../logging/index.js';

export interface TlsMaterial {
  key: string;
  cert: string;
  selfSigned: boolean;
}

/**
 * The SMTP TLS certificate: the operator's (POSTLOG_TLS_CERT_FILE/KEY_FILE), or a self-signed one
 * generated once in the data dir, said loudly in the log so nobody runs production on it unaware.
 * `announced`: the supervisor has said so already for this start (it loads the certificate before
 * forking), so a process it started notes an existing one at debug level: one warning per start.
 */
export async function loadTlsMaterial(o: {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  dataDir: string;
  hostname: string;
  logger: Logger;
  announced?: boolean;
}): Promise<TlsMaterial> {
  if (o.certFile && o.keyFile)
    return { cert: readFileSync(o.certFile, 'utf8'), key: readFileSync(o.keyFile, 'utf8'), selfSigned: false };
  if (o.certFile || o.keyFile) throw new Error('set both POSTLOG_TLS_CERT_FILE and POSTLOG_TLS_KEY_FILE, or neither');
  const dir = join(resolve(o.dataDir), 'tls');
  const certPath = join(dir, 'smtp-self-signed.crt');
  const keyPath = join(dir, 'smtp-self-signed.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const found = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), selfSigned: true };
    if (belongTogether(found)) {
      o.logger[o.announced ? 'debug' : 'warn'](
        { cert: certPath },
        'SMTP TLS uses the self-signed certificate in the data dir',
      );
      return found;
    }
    // two Postlogs sharing a data dir that each made a pair at once can leave one's key next to
    // the other's certificate: they are ours, so a new pair replaces them
    o.logger.warn(
      { cert: certPath },
      'the self-signed certificate and key in the data dir do not belong together: making a new pair',
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pems = await generate([{ name: 'commonName', value: o.hostname }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 5 * 365 * 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: o.hostname }] }],
  });
  // each file appears whole (written aside, then renamed): a reader never sees half of one
  writeWhole(keyPath, pems.private, 0o600);
  writeWhole(certPath, pems.cert, 0o644);
  o.logger.warn(
    { cert: certPath },
    `generated a self-signed TLS certificate for ${o.hostname}: set POSTLOG_TLS_CERT_FILE and POSTLOG_TLS_KEY_FILE to a real one for production`,
  );
  return { cert: pems.cert, key: pems.private, selfSigned: true };
}

function belongTogether(m: { cert: string; key: string }): boolean {
  try {
    return new X509Certificate(m.cert).checkPrivateKey(createPrivateKey(m.key));
  } catch {
    return false;
  }
}

function writeWhole(path: string, content: string, mode: number): void {
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, content, { mode });
  renameSync(aside, path);
}
