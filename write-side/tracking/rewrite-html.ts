export interface RewriteOptions {
  trackClicks: boolean;
  trackOpens: boolean;
  /** Domains (and their subdomains) whose links stay untracked. */
  excludedDomains: string[];
  clickUrl: (url: string) => string;
  openUrl: () => string;
}

const ANCHOR = /<a\b([^>]*?)\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')([^>]*)>/gi;
const decodeAttr = (v: string) => v.replace(/&amp;/g, '&').replace(/&#38;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
const encodeAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

function trackable(url: string, attributes: string, excluded: string[]): boolean {
  // mailto:, tel:, #anchors, relative and template links stay as they are
  if (!/^https?:\/\//i.test(url)) return false;
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
    out = out.replace(ANCHOR, (tag, before: string, dq: string | undefined, sq: string | undefined, after: string) => {
      const url = decodeAttr(dq ?? sq ?? '').trim();
      if (!trackable(url, before + after, o.excludedDomains)) return tag;
      return `<a${before}href="${encodeAttr(o.clickUrl(url))}"${after}>`;
    });
  }
  if (o.trackOpens) {
    const pixel = `<img src="${encodeAttr(o.openUrl())}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
    out = /<\/body>/i.test(out) ? out.replace(/<\/body>/i, `${pixel}</body>`) : out + pixel;
  }
  return out;
}
