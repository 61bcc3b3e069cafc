import { gunzipSync, inflateRawSync } from 'node:zlib';
import { err, ok, type Result } from '../../domain/index.js';

/**
 * The XML of a DMARC aggregate report from its attachment: plain (.xml), gzip (.xml.gz) or zip
 * (.zip, one .xml inside), as RFC 7489 §7.2.1.1 has reporters send it. Decompression stops at
 * `maxXmlBytes` (node's zlib `maxOutputLength`), whatever the archive claims: a zip bomb is refused
 * after that many bytes, never inflated in full. The zip reader is ours (no zip library is
 * installed): it reads the central directory, takes the first .xml entry, stored or deflated, and
 * refuses encryption, zip64 and anything else.
 */
export type ArchiveError = { reason: 'too-large' | 'bad-archive'; message: string };

/** Uncompressed XML beyond this is refused (a large provider's daily report is well under 1 MiB). */
export const MAX_DMARC_XML_BYTES = 16 * 1024 * 1024;

export type ReportAttachmentKind = 'xml' | 'gzip' | 'zip';

/** What an attachment is, by its name or type (reporters use both; names are the more reliable). */
export function reportAttachmentKind(filename: string, mimeType: string): ReportAttachmentKind | undefined {
  const name = filename.toLowerCase();
  const type = mimeType.toLowerCase();
  if (name.endsWith('.zip')) return 'zip';
  if (name.endsWith('.gz')) return 'gzip';
  if (name.endsWith('.xml')) return 'xml';
  // without a telling name, the type (application/gzip has "zip" in it: gzip is asked first)
  if (/gzip/.test(type)) return 'gzip';
  if (/zip/.test(type)) return 'zip';
  if (/\bxml\b/.test(type)) return 'xml';
  return undefined;
}

export function reportXmlOf(
  kind: ReportAttachmentKind,
  bytes: Buffer,
  maxXmlBytes = MAX_DMARC_XML_BYTES,
): Result<string, ArchiveError> {
  if (kind === 'xml') return bytes.length > maxXmlBytes ? tooLarge(maxXmlBytes) : ok(bytes.toString('utf8'));
  if (kind === 'gzip') return inflated(() => gunzipSync(bytes, { maxOutputLength: maxXmlBytes }), maxXmlBytes);
  return unzipFirstXml(bytes, maxXmlBytes);
}

const tooLarge = (max: number) =>
  err<ArchiveError>({ reason: 'too-large', message: `the report's XML is over ${max} bytes uncompressed (refused)` });
const bad = (message: string) => err<ArchiveError>({ reason: 'bad-archive', message });

function inflated(run: () => Buffer, max: number): Result<string, ArchiveError> {
  try {
    return ok(run().toString('utf8'));
  } catch (e) {
    // ERR_BUFFER_TOO_LARGE: maxOutputLength was reached
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) return tooLarge(max);
    return bad(`the archive cannot be decompressed: ${(e as Error).message}`);
  }
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function unzipFirstXml(zip: Buffer, max: number): Result<string, ArchiveError> {
  // the end of central directory record: 22 bytes and a comment of at most 65535
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--)
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  if (eocd < 0) return bad('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL) return bad('the zip central directory is damaged');
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    at += 46 + nameLength + extraLength + commentLength;
    if (!name.toLowerCase().endsWith('.xml')) continue;
    if (flags & 1) return bad(`zip entry ${name} is encrypted`);
    if (compressed === 0xffffffff || localAt === 0xffffffff) return bad('zip64 archives are not read');
    if (localAt + 30 > zip.length || zip.readUInt32LE(localAt) !== LOCAL) return bad(`zip entry ${name} is damaged`);
    const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    const data = zip.subarray(dataAt, dataAt + compressed);
    if (data.length !== compressed) return bad(`zip entry ${name} is cut short`);
    if (method === 0) return data.length > max ? tooLarge(max) : ok(data.toString('utf8'));
    if (method === 8) return inflated(() => inflateRawSync(data, { maxOutputLength: max }), max);
    return bad(`zip entry ${name} uses compression method ${method} (only stored and deflate are read)`);
  }
  return bad('the zip archive holds no .xml file');
}
