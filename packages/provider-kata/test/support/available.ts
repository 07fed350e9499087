import { describe, it } from "vitest";
import { containerdUnavailableReason } from "./containerd-env.js";

const reason = await containerdUnavailableReason();

/** describe() when containerd answers; skipped with the reason otherwise, failing under CI=true. */
export function describeWithContainerd(title: string, body: () => void): void {
  if (reason === undefined) {
    describe(title, body);
    return;
  }
  if (process.env.CI === "true" || process.env.CI === "1") {
    describe(title, () => {
      it("containerd is available (required under CI=true)", () => {
        throw new Error(`${reason}. CI=true, so this fails instead of skipping.`);
      });
    });
    return;
  }
  describe.skip(title, () => {
    it(`skipped: ${reason}`, () => {});
  });
}
