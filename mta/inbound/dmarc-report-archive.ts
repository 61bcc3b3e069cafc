import { gunzipSync } from 'node:zlib';
import yauzl from 'yauzl';
import { err, ok, type Result } from '../../domain/index.js';

/**
 * The XML of a DMARC aggregate report from its attachment: plain (.xml), gzip (.xml.gz) or zip
 * (.zip, one .xml inside), as RFC 7489 §7.2.1.1 has reporters send it. Decompression stops at
 * `maxXmlBytes` (node's zlib `maxOutputLength`), whatever the archive claims: a zip bomb is refused
 * after that many bytes, never inflated in full. A zip's first .xml entry is read with yauzl;
 * an encrypted one is refused.
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

export async function reportXmlOf(
  kind: ReportAttachmentKind,
  bytes: Buffer,
  maxXmlBytes = MAX_DMARC_XML_BYTES,
): Promise<Result<string, ArchiveError>> {
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

/**
 * The first .xml entry of a zip archive, read by yauzl (which checks each entry's real size against
 * the size its header claims): a claimed size over `max` is refused before anything is inflated, and
 * the inflated stream is cut off at `max` bytes whatever the header said.
 */
function unzipFirstXml(zip: Buffer, max: number): Promise<Result<string, ArchiveError>> {
  return new Promise((resolve) => {
    yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true }, (openError, archive) => {
      if (openError || !archive) return resolve(bad(`not a readable zip archive: ${openError?.message ?? 'empty'}`));
      const done = (result: Result<string, ArchiveError>) => {
        archive.close();
        resolve(result);
      };
      archive.on('error', (e: Error) => done(bad(`the zip archive is damaged: ${e.message}`)));
      archive.on('end', () => done(bad('the zip archive holds no .xml file')));
      archive.on('entry', (entry: yauzl.Entry) => {
        if (!entry.fileName.toLowerCase().endsWith('.xml')) return archive.readEntry();
        if (entry.isEncrypted()) return done(bad(`zip entry ${entry.fileName} is encrypted`));
        if (entry.uncompressedSize > max) return done(tooLarge(max));
        archive.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return done(bad(`zip entry ${entry.fileName}: ${streamError?.message}`));
          const chunks: Buffer[] = [];
          let size = 0;
          stream.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > max) {
              stream.destroy();
              return done(tooLarge(max));
            }
            chunks.push(chunk);
          });
          stream.on('error', (e: Error) => done(bad(`zip entry ${entry.fileName} cannot be read: ${e.message}`)));
          stream.on('end', () => done(ok(Buffer.concat(chunks).toString('utf8'))));
        });
      });
      archive.readEntry();
    });
  });
}
