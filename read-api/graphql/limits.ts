import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/**
 * Bounds on one GraphQL request, checked before anything runs (validation rules): how deep a
 * selection nests, and what it costs. Each report field is a database query, so it is what costs;
 * aliases cannot multiply reports past the limit. Introspection (GraphiQL's schema fetch) is free.
 */
export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 8, maxCost: 1000 };
/** A report field (one database query). */
export const REPORT_COST = 100;
const FIELD_COST = 1;

interface Walk {
  depth: number;
  cost: number;
}

/** Depth and cost of a selection set, fragments inlined (a fragment cycle is graphql's own error). */
function walk(
  set: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  reportFields: ReadonlySet<string>,
  root: boolean,
  seen: Set<string>,
): Walk {
  let depth = 0;
  let cost = 0;
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) {
      if (s.name.value.startsWith('__')) continue;
      const inner = s.selectionSet ? walk(s.selectionSet, fragments, reportFields, false, seen) : { depth: 0, cost: 0 };
      depth = Math.max(depth, 1 + inner.depth);
      cost += (root && reportFields.has(s.name.value) ? REPORT_COST : FIELD_COST) + inner.cost;
    } else {
      let inner: SelectionSetNode | undefined;
      if (s.kind === Kind.INLINE_FRAGMENT) inner = s.selectionSet;
      else if (!seen.has(s.name.value)) inner = fragments.get(s.name.value)?.selectionSet;
      if (!inner) continue;
      const next = s.kind === Kind.FRAGMENT_SPREAD ? new Set([...seen, s.name.value]) : seen;
      const w = walk(inner, fragments, reportFields, root, next);
      depth = Math.max(depth, w.depth);
      cost += w.cost;
    }
  }
  return { depth, cost };
}

export function queryLimitsRule(limits: QueryLimits, reportFields: ReadonlySet<string>): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map(
      context
        .getDocument()
        .definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
        .map((d) => [d.name.value, d]),
    );
    return {
      OperationDefinition(op) {
        const { depth, cost } = walk(op.selectionSet, fragments, reportFields, true, new Set());
        if (depth > limits.maxDepth) {
          context.reportError(
            new GraphQLError(`the query nests ${depth} levels deep; at most ${limits.maxDepth} are allowed`, {
              nodes: [op],
              extensions: { code: 'QUERY_TOO_DEEP', depth, maxDepth: limits.maxDepth },
            }),
          );
        }
        if (cost > limits.maxCost) {
          context.reportError(
            new GraphQLError(
              `the query costs ${cost} (${REPORT_COST} per report, ${FIELD_COST} per field); at most ${limits.maxCost} is allowed: split it into several requests`,
              {
                nodes: [op],
                extensions: { code: 'QUERY_TOO_COSTLY', cost, maxCost: limits.maxCost },
              },
            ),
          );
        }
      },
    };
  };
}
