import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/**
 * Certificates valid from an hour ago, as real CAs backdate them: a check made in the second the
 * certificate was issued (dates have whole seconds) must not find it "not yet valid".
 */
const validFrom = () => new Date(Date.now() - 3_600_000);

export interface TestCa {
  cert: string;
  /** The CA certificate in a file of its own, as POSTLOG_TLS_EXTRA_CA_FILE takes it. */
  file: string;
  /** A certificate for these DNS names, signed by the CA. */
  issue(names: string[]): Promise<{ key: string; cert: string }>;
}

/** A private certificate authority for tests: peers get certificates Postlog trusts only through it. */
export async function createTestCa(): Promise<TestCa> {
  const ca = await generate([{ name: 'commonName', value: 'Postlog Test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: validFrom(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const file = join(mkdtempSync(join(tmpdir(), 'postlog-ca-')), 'ca.pem');
  writeFileSync(file, ca.cert);
  return {
    cert: ca.cert,
    file,
    async issue(names) {
      const pems = await generate([{ name: 'commonName', value: names[0]! }], {
        keyType: 'ec',
        algorithm: 'sha256',
        ca: { key: ca.private, cert: ca.cert },
        notBeforeDate: validFrom(),
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
        ],
      });
      return { key: pems.private, cert: pems.cert };
    },
  };
}
