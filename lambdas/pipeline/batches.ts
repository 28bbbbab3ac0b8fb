/** Runs `fn` over `items` at most `limit` at a time: a model with thousands of files must not open thousands of sockets. */
export async function inBatches<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += limit) {
    for (const r of await Promise.all(items.slice(i, i + limit).map(fn))) results.push(r);
  }
  return results;
}
