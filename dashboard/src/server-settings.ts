import type { Server } from './types';

/**
 * The server's settings as a form holds them (text for numbers and lists), and back to the body of
 * PATCH /v2/servers/{id}. Only what changed is sent: an organization's admin who leaves the send
 * limit alone is not refused for it (only a global admin may change it), and the API's rules stay
 * the API's (a number that is not one is sent as typed, and the API says what is wrong with it).
 */
export interface SettingsDraft {
  name: string;
  mode: Server['mode'];
  retentionDays: string;
  privacyMode: boolean;
  allowedSenders: string;
  postmasterAddress: string;
  spamThreshold: string;
  spamFailThreshold: string;
  outboundSpamThreshold: string;
  trackOpens: boolean;
  trackClicks: boolean;
  listUnsubscribe: boolean;
  trackingExcludedDomains: string;
  sendLimitPerHour: string;
  ipPool: string;
  suspended: boolean;
  suspendedReason: string;
}

/** The settings' API names: the fields the API may name in a complaint. */
export const SETTINGS_FIELDS = [
  'name',
  'mode',
  'retentionDays',
  'privacyMode',
  'allowedSenders',
  'postmasterAddress',
  'spamThreshold',
  'spamFailThreshold',
  'outboundSpamThreshold',
  'trackOpens',
  'trackClicks',
  'listUnsubscribe',
  'trackingExcludedDomains',
  'sendLimitPerHour',
  'ipPool',
  'suspended',
  'suspendedReason',
] as const satisfies readonly (keyof SettingsDraft)[];

const text = (n: number | null) => (n === null ? '' : String(n));

export function draftOf(s: Server): SettingsDraft {
  return {
    name: s.name,
    mode: s.mode,
    retentionDays: String(s.retentionDays),
    privacyMode: s.privacyMode,
    allowedSenders: s.allowedSenders.join('\n'),
    postmasterAddress: s.postmasterAddress ?? '',
    spamThreshold: text(s.spamThreshold),
    spamFailThreshold: text(s.spamFailThreshold),
    outboundSpamThreshold: text(s.outboundSpamThreshold),
    trackOpens: s.trackOpens,
    trackClicks: s.trackClicks,
    listUnsubscribe: s.listUnsubscribe,
    trackingExcludedDomains: s.trackingExcludedDomains.join('\n'),
    sendLimitPerHour: text(s.sendLimitPerHour),
    ipPool: s.ipPool ?? '',
    suspended: s.suspended,
    suspendedReason: s.suspendedReason ?? '',
  };
}

/** A number as typed: empty is null (the setting off or the default), a non-number goes as typed. */
function number(typed: string): number | string | null {
  const t = typed.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}
/** One entry a line (or separated by commas), blanks left out. */
const lines = (typed: string) =>
  typed
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter(Boolean);
const orNull = (typed: string) => (typed.trim() === '' ? null : typed.trim());

function valuesOf(d: SettingsDraft): Record<string, unknown> {
  return {
    name: d.name.trim(),
    mode: d.mode,
    retentionDays: number(d.retentionDays) ?? '',
    privacyMode: d.privacyMode,
    allowedSenders: lines(d.allowedSenders),
    postmasterAddress: orNull(d.postmasterAddress),
    spamThreshold: number(d.spamThreshold),
    spamFailThreshold: number(d.spamFailThreshold),
    outboundSpamThreshold: number(d.outboundSpamThreshold),
    trackOpens: d.trackOpens,
    trackClicks: d.trackClicks,
    listUnsubscribe: d.listUnsubscribe,
    trackingExcludedDomains: lines(d.trackingExcludedDomains),
    sendLimitPerHour: number(d.sendLimitPerHour),
    ipPool: orNull(d.ipPool),
    suspended: d.suspended,
    suspendedReason: d.suspended ? orNull(d.suspendedReason) : null,
  };
}

/** The PATCH body: the settings whose value differs from the server's. */
export function changesOf(draft: SettingsDraft, server: Server): Record<string, unknown> {
  const before = valuesOf(draftOf(server));
  const after = valuesOf(draft);
  return Object.fromEntries(Object.entries(after).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(before[k])));
}
