/** A call that gave no answer within its bound: the hang this package exists to catch. */
export class NoAnswerError extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} gave no answer within ${ms} ms`);
    this.name = "NoAnswerError";
  }
}

/** Settles like `promise`, or rejects with NoAnswerError after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswerError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
