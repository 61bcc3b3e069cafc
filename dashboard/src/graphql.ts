import { ApiError, post } from './api';

/** A GraphQL query to Postlog's analytics endpoint (POST /graphql, the session's cookie and CSRF token). */
export async function graphql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await post<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }>('/graphql', {
    query,
    variables,
  });
  const first = res.errors?.[0];
  if (first) throw new ApiError(400, first.extensions?.code ?? 'GRAPHQL_ERROR', first.message);
  return res.data as T;
}
