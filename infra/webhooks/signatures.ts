import {
  createHmac,
  createPublicKey,
  sign,
  timingSafeEqual,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';

/** Postal's X-Postal-Signature-256: base64 of an RSA-SHA256 (PKCS#1 v1.5) signature of the raw body. */
export const rsaSignature = (body: string, privateKey: KeyObject) =>
  sign('sha256', Buffer.from(body), privateKey).toString('base64');

/** Postal's legacy X-Postal-Signature: the same with SHA-1 (Postal 3.3 still sends it; older receivers check it). */
export const rsaSha1Signature = (body: string, privateKey: KeyObject) =>
  sign('sha1', Buffer.from(body), privateKey).toString('base64');

/** The same, computed on libuv's thread pool: RSA signing costs about a millisecond of CPU. */
export const rsaSignatureAsync = (body: string, privateKey: KeyObject, digest: 'sha256' | 'sha1' = 'sha256') =>
  new Promise<string>((resolve, reject) =>
    sign(digest, Buffer.from(body), privateKey, (err, signature) =>
      err ? reject(err) : resolve(signature.toString('base64')),
    ),
  );

export function verifyRsaSignature(
  body: string,
  signature: string,
  jwk: JsonWebKey,
  digest: 'sha256' | 'sha1' = 'sha256',
): boolean {
  return verify(
    digest,
    Buffer.from(body),
    createPublicKey({ key: jwk, format: 'jwk' }),
    Buffer.from(signature, 'base64'),
  );
}

/** hex HMAC-SHA256 of "<unix seconds>.<body>": binds the timestamp to the body. */
export const hmacOf = (secret: string, timestamp: number, body: string) =>
  createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');

/** X-Postlog-Signature: "t=<unix seconds>,v1=<hex>" (a second v1 while a rotated secret is still honoured). */
export function postlogSignatureHeader(secrets: string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${hmacOf(s, timestamp, body)}`)].join(',');
}

/**
 * How a receiver checks X-Postlog-Signature: one v1 matches the HMAC of "<t>.<body>" with the
 * endpoint's secret, and t is within `toleranceSeconds` of now (a captured request cannot be
 * replayed later).
 */
export function verifyPostlogSignature(
  header: string,
  body: string,
  secret: string,
  options: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  const parts = header.split(',').map((p) => p.trim().split('=', 2) as [string, string]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t)) return false;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(hmacOf(secret, t, body), 'hex');
  return parts.some(
    ([k, v]) => k === 'v1' && /^[0-9a-f]{64}$/.test(v) && timingSafeEqual(Buffer.from(v, 'hex'), expected),
  );
}
