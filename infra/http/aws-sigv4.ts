import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { err, ok, type Result } from '../../domain/index.js';

/**
 * AWS Signature Version 4 (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html), checked the way AWS
 * checks it, so that AWS SDK clients (SES) authenticate to Postlog with an access key id and secret unchanged.
 * Only header signatures (`Authorization: AWS4-HMAC-SHA256 …`) are taken: no presigned URLs, no session tokens.
 */

/** What a request's Authorization header says. */
export interface SigV4Authorization {
  accessKeyId: string;
  /** YYYYMMDD of the credential scope. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** The parts of an HTTP request a signature covers; `body` is the exact bytes received. */
export interface SignedRequest {
  method: string;
  /** The path as sent (percent-encoded), without the query. */
  path: string;
  /** The raw query string, without '?'. */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type SigV4Failure =
  | { code: 'IncompleteSignature'; message: string }
  | { code: 'SignatureDoesNotMatch'; message: string }
  | { code: 'RequestExpired'; message: string };

/** AWS allows a request's time to be this far from the server's. */
const MAX_SKEW_MS = 15 * 60_000;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256\s+Credential=([A-Za-z0-9]{1,128})\/(\d{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,32})\/aws4_request,\s*SignedHeaders=([a-z0-9;._-]{1,2000}),\s*Signature=([0-9a-f]{64})\s*$/;

export function parseSigV4Authorization(header: string | undefined): Result<SigV4Authorization, SigV4Failure> {
  const m = header ? AUTHORIZATION.exec(header) : null;
  if (!m)
    return err({
      code: 'IncompleteSignature',
      message:
        'Authorization must be "AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, ' +
        'SignedHeaders=…, Signature=…"',
    });
  const [, accessKeyId, date, region, service, signed, signature] = m as unknown as string[];
  return ok({
    accessKeyId: accessKeyId!,
    date: date!,
    region: region!,
    service: service!,
    signedHeaders: signed!.split(';'),
    signature: signature!,
  });
}

/**
 * Checks a request's signature with the access key's secret: the credential scope names `service`, the signed
 * headers include host and x-amz-date, the time is within 15 minutes of `now`, and the signature is the one the
 * secret makes over exactly these bytes.
 */
export function verifySigV4(
  req: SignedRequest,
  auth: SigV4Authorization,
  secret: string,
  service: string,
  now: Date,
): Result<void, SigV4Failure> {
  if (auth.service !== service)
    return err({
      code: 'SignatureDoesNotMatch',
      message: `the credential scope names ${auth.service}, not ${service}`,
    });
  for (const needed of ['host', 'x-amz-date'])
    if (!auth.signedHeaders.includes(needed))
      return err({ code: 'IncompleteSignature', message: `the signed headers must include ${needed}` });
  const amzDate = header(req.headers, 'x-amz-date');
  const at = amzDate && /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!at) return err({ code: 'IncompleteSignature', message: 'X-Amz-Date must be YYYYMMDDTHHMMSSZ' });
  if (amzDate.slice(0, 8) !== auth.date)
    return err({ code: 'SignatureDoesNotMatch', message: "the credential scope's date is not X-Amz-Date's" });
  const time = Date.UTC(+at[1]!, +at[2]! - 1, +at[3]!, +at[4]!, +at[5]!, +at[6]!);
  if (Math.abs(time - now.getTime()) > MAX_SKEW_MS)
    return err({
      code: 'RequestExpired',
      message: `the request was signed at ${amzDate}, more than 15 minutes from the server's time`,
    });
  const bodyHash = sha256Hex(req.body);
  const declared = header(req.headers, 'x-amz-content-sha256');
  if (declared !== undefined && declared !== bodyHash)
    return err({ code: 'SignatureDoesNotMatch', message: 'X-Amz-Content-Sha256 is not the hash of the body' });
  const expected = sigV4Signature(req, auth, secret, amzDate, bodyHash);
  const given = Buffer.from(auth.signature, 'hex');
  if (!timingSafeEqual(given, Buffer.from(expected, 'hex')))
    return err({
      code: 'SignatureDoesNotMatch',
      message: 'the request signature we calculated does not match the signature you provided',
    });
  return ok(undefined);
}

/** The signature of a request as AWS computes it (canonical request → string to sign → derived key). */
export function sigV4Signature(
  req: SignedRequest,
  auth: Omit<SigV4Authorization, 'signature' | 'accessKeyId'>,
  secret: string,
  amzDate: string,
  bodyHash = sha256Hex(req.body),
): string {
  const signed = [...auth.signedHeaders].sort();
  const canonical = [
    req.method.toUpperCase(),
    canonicalPath(req.path),
    canonicalQuery(req.query),
    signed.map((name) => `${name}:${(header(req.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join(''),
    signed.join(';'),
    bodyHash,
  ].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(Buffer.from(canonical))].join('\n');
  return createHmac('sha256', signingKey(secret, auth.date, auth.region, auth.service))
    .update(toSign)
    .digest('hex');
}

/** Derived keys change once a day per key and region: four HMACs a request saved by keeping the last few. */
const signingKeys = new Map<string, Buffer>();
const MAX_SIGNING_KEYS = 1000;

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${date}/${region}/${service}/${secret}`;
  let key = signingKeys.get(id);
  if (key) return key;
  key = hmac(`AWS4${secret}`, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.delete(signingKeys.keys().next().value!);
  signingKeys.set(id, key);
  return key;
}

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** RFC 3986 percent-encoding, as SigV4 wants it: everything but unreserved characters. */
const uriEscape = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Each path segment decoded, then encoded once (as the SDK signs the unencoded path). */
const canonicalPath = (path: string) =>
  path
    .split('/')
    .map((segment) => uriEscape(decode(segment)))
    .join('/') || '/';

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      return [uriEscape(decode(i < 0 ? p : p.slice(0, i))), uriEscape(decode(i < 0 ? '' : p.slice(i + 1)))] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}
