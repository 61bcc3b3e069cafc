import { BOUNCE_RULES, type BounceCategory, type BounceRule } from './bounce-rules.js';

export interface BounceVerdict {
  category: BounceCategory;
  suppress: boolean;
  enhancedCode?: string;
}

/**
 * The RFC 3463 code in a reply text ("5.1.1 User unknown"), if any; also as qmail and some gateways
 * write it ("(#5.1.1)", "550 #5.7.1 …").
 */
export function enhancedCodeOf(text: string): string | undefined {
  return /(?:^|\s|#)([245]\.\d{1,3}\.\d{1,3})(?=\s|$|[;,:)])/.exec(text)?.[1];
}

/** The first rule of the table that matches the reply; undefined when none does. */
export function matchingBounceRule(text: string, enhancedCode = enhancedCodeOf(text)): BounceRule | undefined {
  const statusMatches = (rule: BounceRule) =>
    (!rule.status || (!!enhancedCode && rule.status.test(enhancedCode))) &&
    !(rule.unlessStatus && enhancedCode && rule.unlessStatus.test(enhancedCode));
  return BOUNCE_RULES.find((rule) => statusMatches(rule) && (!rule.text || rule.text.test(text)));
}

/**
 * Classifies a failure by the rule table (see bounce-rules.ts). A transient one (a 4.x.x code) is
 * never suppressed, whatever its category: the server may take the mail later.
 */
export function classifyBounce(text: string, enhancedCode = enhancedCodeOf(text)): BounceVerdict {
  const rule = matchingBounceRule(text, enhancedCode);
  return {
    category: rule?.category ?? 'other',
    suppress: (rule?.suppress ?? false) && !enhancedCode?.startsWith('4.'),
    ...(enhancedCode ? { enhancedCode } : {}),
  };
}
