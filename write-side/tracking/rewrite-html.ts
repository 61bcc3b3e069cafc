export interface RewriteOptions {
  trackClicks: boolean;
  trackOpens: boolean;
  /** Domains (and their subdomains) whose links stay untracked. */
  excludedDomains: string[];
  clickUrl: (url: string) => string;
  openUrl: () => string;
}

/** One <a …> tag (already cut out of the HTML, so no backtracking across the document). */
const ANCHOR = /^<a\b([^>]*?)\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')([^>]*)>$/i;
const decodeAttr = (v: string) =>
  v
    .replace(/&amp;/g, '&')
    .replace(/&#38;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
const encodeAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

function trackable(url: string, attributes: string, excluded: string[]): boolean {
  // mailto:, tel:, #anchors, relative and template links stay as they are; so does anything odd
  if (!/^https?:\/\//i.test(url) || /[\u0000-\u001f\u007f\s]/.test(url)) return false;
  // the sender can opt a link out: <a data-pl-notrack href=…> or data-postlog-track="false"
  if (/\bdata-pl-notrack\b|\bdata-postlog-track\s*=\s*["']?false/i.test(attributes)) return false;
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return !excluded.some((d) => host === d || host.endsWith(`.${d}`));
}

/**
 * Click tracking: each trackable link's href points at the tracking endpoint; open tracking: a
 * 1×1 image before </body> (or at the end). Everything else in the HTML is left byte for byte.
 */
export function rewriteHtml(html: string, o: RewriteOptions): string {
  let out = html;
  if (o.trackClicks) {
    // walk the tags with indexOf: linear whatever the input
    const parts: string[] = [];
    let from = 0;
    const lower = out.toLowerCase();
    for (;;) {
      const start = lower.indexOf('<a', from);
      if (start < 0) break;
      const end = out.indexOf('>', start);
      if (end < 0) break;
      const tag = out.slice(start, end + 1);
      const m = /^<a[\s>]/i.test(tag) ? ANCHOR.exec(tag) : null;
      let replaced = tag;
      if (m) {
        const [, before, dq, sq, after] = m as unknown as [
          string,
          string,
          string | undefined,
          string | undefined,
          string,
        ];
        const url = decodeAttr(dq ?? sq ?? '').trim();
        if (trackable(url, before + after, o.excludedDomains))
          replaced = `<a${before}href="${encodeAttr(o.clickUrl(url))}"${after}>`;
      }
      parts.push(out.slice(from, start), replaced);
      from = end + 1;
    }
    parts.push(out.slice(from));
    out = parts.join('');
  }
  if (o.trackOpens) {
    const pixel = `<img src="${encodeAttr(o.openUrl())}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
    out = /<\/body>/i.test(out) ? out.replace(/<\/body>/i, `${pixel}</body>`) : out + pixel;
  }
  return out;
}
