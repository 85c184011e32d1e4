import { rethrowDatabaseError } from '@understudy/database';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import {
  afterCondition,
  finishPage,
  planPage,
  type ListOrder,
  type PageRequest,
} from '../domain/paging.js';

/**
 * One page of `query` (already filtered) in the request's order, starting after its token, with
 * the next page's token. `filters` are the request's filters, which the tokens are bound to.
 */
export async function keysetPage<Row extends ObjectLiteral>(
  query: SelectQueryBuilder<Row>,
  order: ListOrder<Row>,
  request: PageRequest,
  filters: object,
): Promise<{ rows: Row[]; nextPageToken: string }> {
  const plan = planPage(order, request, filters);
  const after = afterCondition(plan);
  if (after !== undefined) query.andWhere(after.sql, after.parameters);
  for (const key of plan.keys) query.addOrderBy(key.column, key.descending ? 'DESC' : 'ASC');
  const fetched = await query
    .limit(plan.size + 1)
    .getMany()
    .catch(rethrowDatabaseError);
  return finishPage(plan, fetched);
}
