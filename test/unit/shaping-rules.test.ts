import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  effectiveLimits,
  matchingBackOff,
  providerBlockOf,
  providerOf,
  warmupAllowance,
  warmupDay,
  warmupPlanOf,
  type ShapingRules,
} from '../../domain/index.js';
import { SHIPPED_SHAPING_FILE, shapingRulesFrom, type ShapingLoad } from '../../mta/shaping/shaping-file.js';

/** The shaping rule loader: YAML in, rules or problems naming file, line and field out (no files needed). */
const shipped = { file: 'shaping.yaml', text: readFileSync(SHIPPED_SHAPING_FILE, 'utf8') };
const base = { maxConnections: 20, messagesPerConnection: 100, messagesPerMinute: 0 };

function rules(load: ShapingLoad): ShapingRules {
  if (!load.ok) throw new Error(JSON.stringify(load.problems));
  return load.rules;
}
function problems(load: ShapingLoad) {
  assert.equal(load.ok, false, 'refused');
  return load.ok ? [] : load.problems;
}

describe('shaping rules: the shipped file', () => {
  const r = rules(shapingRulesFrom([shipped]));

  it('rolls MX hosts up to the large providers, by suffix and by the provider roll-up', () => {
    assert.equal(providerBlockOf(r, 'gmail-smtp-in.l.google.com'), 'google.com');
    assert.equal(providerBlockOf(r, 'alt1.aspmx.l.googlemail.com.'), 'google.com');
    assert.equal(providerBlockOf(r, 'example-com.mail.protection.outlook.com'), 'outlook.com');
    assert.equal(providerBlockOf(r, 'mta7.am0.yahoodns.net'), 'yahoo.com');
    assert.equal(providerBlockOf(r, 'mx01.mail.icloud.com'), 'icloud.com');
    assert.equal(providerBlockOf(r, 'mx.small-isp.example'), undefined);
    assert.equal(providerOf(r, 'mx.small-isp.example'), 'small-isp.example', 'others: their roll-up');
  });

  it('gives providers their own limits and the rest the POSTLOG_MTA_* ones', () => {
    const google = effectiveLimits(r, 'google.com', base);
    assert.equal(google.maxConnections, 5);
    assert.equal(google.messagesPerConnection, 50);
    const other = effectiveLimits(r, undefined, base);
    assert.deepEqual(
      {
        c: other.maxConnections,
        m: other.messagesPerConnection,
        pm: other.messagesPerMinute,
        ph: other.messagesPerHour,
      },
      { c: 20, m: 100, pm: 0, ph: 0 },
    );
  });

  it("knows the providers' slow-down answers", () => {
    const rule = (block: string, code: number, text: string) => {
      const enhancedCode = /^(\d\.\d+\.\d+)/.exec(text)?.[1];
      return matchingBackOff(effectiveLimits(r, block, base).backOff, { code, enhancedCode, text });
    };
    assert.equal(rule('google.com', 421, '4.7.28 Our system has detected an unusual rate of mail')?.pauseMinutes, 30);
    assert.equal(rule('outlook.com', 451, '4.7.500 Server busy. Please try again later')?.pauseMinutes, 15);
    const yahoo = rule('yahoo.com', 421, '4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred');
    assert.equal(yahoo?.pauseMinutes, 60);
    assert.equal(
      rule('google.com', 450, '4.2.1 The user you are trying to contact is receiving mail too fast'),
      undefined,
    );
    assert.equal(rule('google.com', 452, '4.2.2 mailbox full'), undefined);
  });

  it('ships warm-up off, with a schedule that rises and ends', () => {
    const plan = warmupPlanOf(r, 'any-pool');
    assert.equal(plan.enabled, false);
    assert.equal(warmupAllowance(plan.schedule, 1, 'google.com'), 50);
    assert.equal(warmupAllowance(plan.schedule, 1, 'small-isp.example'), 100, "'*' for the others");
    assert.equal(warmupAllowance(plan.schedule, 6, 'google.com'), 800, 'a day between steps keeps the last step');
    assert.equal(warmupAllowance(plan.schedule, 31, 'google.com'), undefined, 'warm after the last day');
  });
});

describe('shaping rules: the operator file over the shipped one', () => {
  it('merges maps key by key and replaces lists', () => {
    const r = rules(
      shapingRulesFrom([
        shipped,
        {
          file: 'ops.yaml',
          text: [
            'providers:',
            '  google.com:',
            '    maxConnections: 2',
            '    backOff:',
            '      - { reply: "closing", pauseMinutes: 1 }',
            '  mx.test:',
            '    mxSuffixes: [alpha.mx.test]',
            'warmup:',
            '  pools:',
            '    outbound: { enabled: true, overflow: other-ip }',
          ].join('\n'),
        },
      ]),
    );
    assert.equal(r.providers['google.com']!.maxConnections, 2);
    assert.equal(r.providers['google.com']!.messagesPerConnection, 50, 'kept from the shipped file');
    assert.deepEqual(
      r.providers['google.com']!.backOff!.map((b) => b.reply),
      ['closing'],
      'a list is replaced, not appended',
    );
    assert.equal(r.providers['outlook.com']!.maxConnections, 10);
    assert.equal(providerBlockOf(r, 'mx1.alpha.mx.test'), 'mx.test');
    assert.deepEqual(warmupPlanOf(r, 'outbound').overflow, 'other-ip');
    assert.equal(warmupPlanOf(r, 'outbound').enabled, true);
    assert.equal(warmupPlanOf(r, 'other').enabled, false);
  });

  it('names the file, line and field of a wrong value', () => {
    const [p, ...rest] = problems(
      shapingRulesFrom([
        shipped,
        { file: 'ops.yaml', text: 'providers:\n  google.com:\n    mxSuffixes: [google.com]\n    maxConnections: -3\n' },
      ]),
    );
    assert.equal(rest.length, 0);
    assert.deepEqual(
      { file: p!.file, line: p!.line, field: p!.field },
      { file: 'ops.yaml', line: 4, field: 'providers.google.com.maxConnections' },
    );
  });

  it('names an unknown key (a misspelling) at its own line', () => {
    const [p] = problems(
      shapingRulesFrom([{ file: 'ops.yaml', text: 'default:\n  maxConnections: 3\n  messagesPerHr: 10\n' }]),
    );
    assert.deepEqual({ line: p!.line, field: p!.field }, { line: 3, field: 'default.messagesPerHr' });
  });

  it('names the line of a YAML syntax error, and of a bad regular expression', () => {
    const [syntax] = problems(shapingRulesFrom([{ file: 'ops.yaml', text: 'default:\n  maxConnections: [3\n' }]));
    assert.equal(syntax!.file, 'ops.yaml');
    assert.ok(syntax!.line >= 2, JSON.stringify(syntax));
    const [noMatch, badRegex] = problems(
      shapingRulesFrom([
        {
          file: 'ops.yaml',
          text: 'default:\n  backOff:\n    - { pauseMinutes: 1 }\n    - { reply: "([", pauseMinutes: 1 }\n',
        },
      ]),
    ).sort((a, b) => a.line - b.line);
    assert.deepEqual(
      { line: noMatch!.line, message: noMatch!.message },
      { line: 3, message: 'needs enhancedCode or reply' },
    );
    assert.deepEqual({ line: badRegex!.line, field: badRegex!.field }, { line: 4, field: 'default.backOff.1.reply' });
  });

  it('refuses a warm-up step without a day', () => {
    const [p] = problems(
      shapingRulesFrom([{ file: 'ops.yaml', text: 'warmup:\n  schedule:\n    - perProvider: { "*": 5 }\n' }]),
    );
    assert.deepEqual({ line: p!.line, field: p!.field }, { line: 3, field: 'warmup.schedule.0.day' });
  });
});

describe('warm-up days', () => {
  it('counts UTC days from the start, the start being day 1', () => {
    assert.equal(warmupDay('2026-03-01', new Date('2026-03-01T23:59:59Z')), 1);
    assert.equal(warmupDay('2026-03-01', new Date('2026-03-02T00:00:00Z')), 2);
    assert.equal(warmupDay('2026-02-01', new Date('2026-03-03T12:00:00Z')), 31);
  });
});
