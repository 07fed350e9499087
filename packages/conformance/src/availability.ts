import { describe, it } from "vitest";

/** True under CI=true (or 1): a missing engine then fails instead of skipping. */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === "true" || env.CI === "1";
}

/**
 * Runs a reachability check (a ping, a version call) and turns its failure into the reason to
 * pass as `unavailableReason` or to describeWhenAvailable(). Undefined when the engine answered.
 */
export async function engineUnavailableReason(
  what: string,
  check: () => unknown,
  timeoutMs = 5_000,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(check), deadline]);
    return undefined;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return `${what} is not reachable: ${detail}`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * describe(title, body) when `unavailableReason` is undefined. Otherwise the suite is skipped
 * with the reason, or, under CI=true, replaced by one failing test naming the reason, so that a
 * missing engine never passes in CI.
 */
export function describeWhenAvailable(
  title: string,
  unavailableReason: string | undefined,
  body: () => void,
): void {
  if (unavailableReason === undefined) {
    describe(title, body);
    return;
  }
  if (isCi()) {
    describe(title, () => {
      it("the backend is available (required under CI=true) [MUST]", () => {
        throw new Error(`${unavailableReason}. CI=true, so this fails instead of skipping.`);
      });
    });
    return;
  }
  describe.skip(title, () => {
    it(`skipped: ${unavailableReason}`, () => {});
  });
}
