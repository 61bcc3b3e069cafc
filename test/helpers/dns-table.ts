import type { MxResolver } from '../../mta/routing/router.js';

/** A DNS failure as Node's resolver reports it (ESERVFAIL, ETIMEOUT, ENOTFOUND…). */
export interface DnsFailure {
  fail: string;
}

/** The records of one name; a type left out has no records (ENODATA), as in a real zone. */
export interface DnsName {
  mx?: { exchange: string; priority: number }[] | DnsFailure;
  a?: string[] | DnsFailure;
  aaaa?: string[] | DnsFailure;
}

/**
 * The routing port answered from a table instead of a DNS server: a name not in the table does
 * not exist (ENOTFOUND). `asked` lists every query ("MX example.com"), to show what was looked up.
 */
export function tableResolver(names: Record<string, DnsName>): MxResolver & { asked: string[] } {
  const asked: string[] = [];
  const answer = async <T>(type: string, name: string, pick: (n: DnsName) => T[] | DnsFailure | undefined) => {
    asked.push(`${type} ${name}`);
    const entry = names[name.toLowerCase()];
    const records = entry ? pick(entry) : { fail: 'ENOTFOUND' };
    const failure = records === undefined ? { fail: 'ENODATA' } : 'fail' in records ? records : undefined;
    if (failure) throw Object.assign(new Error(`query${type} ${failure.fail} ${name}`), { code: failure.fail });
    return records as T[];
  };
  return {
    asked,
    resolveMx: (name: string) => answer('MX', name, (n) => n.mx),
    resolve4: ((name: string) => answer('A', name, (n) => n.a)) as MxResolver['resolve4'],
    resolve6: ((name: string) => answer('AAAA', name, (n) => n.aaaa)) as MxResolver['resolve6'],
  };
}
