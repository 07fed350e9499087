/**
 * `work` applied to each item with up to `window` of them running at once, the results yielded
 * in the items' order: small files are read (or written) a few at a time, which hides each one's
 * round trip through the thread pool, while memory stays bounded by the window.
 */
export async function* inOrder<T, R>(
  items: Iterable<T>,
  window: number,
  work: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const running: Array<Promise<R>> = [];
  const iterator = items[Symbol.iterator]();
  const fill = () => {
    while (running.length < window) {
      const next = iterator.next();
      if (next.done) return;
      const started = work(next.value);
      // Awaited in order below; a rejection meanwhile is not unhandled.
      started.catch(() => {});
      running.push(started);
    }
  };
  fill();
  while (running.length > 0) {
    const value = await running.shift()!;
    fill();
    yield value;
  }
}
