import { BOUNCE_RULES, type BounceCategory } from './bounce-rules.js';

export interface BounceVerdict {
  category: BounceCategory;
  suppress: boolean;
  enhancedCode?: string;
}

/** The RFC 3463 code at the start of a reply text ("5.1.1 User unknown"), if any. */
export function enhancedCodeOf(text: string): string | undefined {
  return /(?:^|\s)([245]\.\d{1,3}\.\d{1,3})(?=\s|$|[;,:])/.exec(text)?.[1];
}

/** Classifies a permanent failure by the rule table (see bounce-rules.ts). */
export function classifyBounce(text: string, enhancedCode = enhancedCodeOf(text)): BounceVerdict {
  for (const rule of BOUNCE_RULES) {
    if (rule.status && !(enhancedCode && rule.status.test(enhancedCode))) continue;
    if (rule.text && !rule.text.test(text)) continue;
    return { category: rule.category, suppress: rule.suppress, ...(enhancedCode ? { enhancedCode } : {}) };
  }
  return { category: 'other', suppress: false, ...(enhancedCode ? { enhancedCode } : {}) };
}
