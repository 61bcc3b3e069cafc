import { createPrivateKey, type KeyObject } from 'node:crypto';
import { dkimSign } from 'mailauth';
import DKIM from 'nodemailer/lib/dkim';

export interface SigningKey {
  selector: string;
  algorithm: 'rsa-2048' | 'ed25519';
  privateKeyPem: string;
}

/** RFC 6376's recommended fields plus List-Unsubscribe-Post, which RFC 8058 requires to be signed. */
const SIGNED_HEADERS = [
  'From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc', 'MIME-Version', 'Content-Type', 'Content-Transfer-Encoding',
  'Content-ID', 'Content-Description', 'In-Reply-To', 'References', 'List-Id', 'List-Help', 'List-Unsubscribe', 'List-Unsubscribe-Post',
  'List-Subscribe', 'List-Post', 'List-Owner', 'List-Archive',
].join(':');

// Parsing a PEM key costs more than the RSA signature itself: keep the parsed keys.
const parsedKeys = new Map<string, KeyObject>();
function keyObject(pem: string): KeyObject {
  let key = parsedKeys.get(pem);
  if (!key) {
    if (parsedKeys.size > 1000) parsedKeys.clear();
    key = createPrivateKey(pem);
    parsedKeys.set(pem, key);
  }
  return key;
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * DKIM-signs a message with every active key of its domain: RSA-SHA256 with nodemailer's signer
 * (parsed key cached), and Ed25519-SHA256 (RFC 8463) with mailauth's, for dual signing.
 * Both use relaxed/relaxed canonicalization.
 */
export async function dkimSignMessage(message: Buffer, domain: string, keys: SigningKey[], now: Date): Promise<Buffer> {
  let signed = message;
  const rsa = keys.filter((k) => k.algorithm === 'rsa-2048');
  if (rsa.length > 0) {
    const dkim = new DKIM({
      keys: rsa.map((k) => ({ domainName: domain, keySelector: k.selector, privateKey: keyObject(k.privateKeyPem) as unknown as string })),
      cacheDir: false,
      headerFieldNames: SIGNED_HEADERS,
    });
    signed = await collect(dkim.sign(signed));
  }
  const ed = keys.filter((k) => k.algorithm === 'ed25519');
  if (ed.length > 0) {
    const result = await dkimSign(signed, {
      signingDomain: domain,
      selector: ed[0]!.selector,
      privateKey: ed[0]!.privateKeyPem,
      canonicalization: 'relaxed/relaxed',
      signTime: now,
      signatureData: ed.map((k) => ({ signingDomain: domain, selector: k.selector, privateKey: k.privateKeyPem, algorithm: 'ed25519-sha256', canonicalization: 'relaxed/relaxed' })),
    });
    const errors = (result as { errors?: unknown[] }).errors;
    if (errors?.length) throw new Error(`DKIM signing failed: ${JSON.stringify(errors)}`);
    signed = Buffer.concat([Buffer.from(result.signatures), signed]);
  }
  return signed;
}
