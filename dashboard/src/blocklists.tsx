import { get } from './api';

/** A sending IP or domain on a DNS blocklist, as GET /v2/deliverability/blocklists says. */
export interface BlocklistListing {
  kind: 'ip' | 'domain';
  target: string;
  zone: string;
  listed: boolean;
  reason: string;
  since: string;
  serverIds: string[];
}

/** The listings now (those delisted left out); none when the caller may not read them. */
export const loadListings = () =>
  get<{ listings: BlocklistListing[] }>('/v2/deliverability/blocklists').then(
    (r) => r.listings.filter((l) => l.listed),
    () => [] as BlocklistListing[],
  );

/** A red mark per list a target is on; the list's reason on hover. */
export function BlocklistBadges({ listings }: { listings: BlocklistListing[] }) {
  return (
    <>
      {listings.map((l) => (
        <span
          key={`${l.target}@${l.zone}`}
          class="badge status-bounced"
          title={`${l.target} listed on ${l.zone} since ${l.since}${l.reason ? `: ${l.reason}` : ''}`}
        >
          on blocklist {l.zone}
        </span>
      ))}
    </>
  );
}
