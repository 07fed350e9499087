import { isolationLevels, policyFields } from "@cadre/agent-runtime-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectErrorCode,
  expectStartRefused,
  issuePathsOf,
  unsupportedOf,
} from "../expect-error.js";
import { requestValue } from "../policy-values.js";
import type { ConformanceContext } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";
import { unknownSessionId } from "./lifecycle.js";

const names = conformanceTestNames.policy;

export function registerPolicy(ctx: ConformanceContext): void {
  describe("policy", () => {
    const timeout = () => ctx.ms(60_000);
    const levelsAbove = () =>
      isolationLevels.slice(isolationLevels.indexOf(ctx.report.isolation) + 1);

    it(
      names.invalidPaths,
      async () => {
        const policy = ctx.policy({
          memory: -1,
          cpu: Number.NaN,
          pids: 1.5,
          ttlMs: "soon",
          networkIsolation: "yes",
          env: { "1BAD": "x" },
          workdir: "relative/dir",
        });
        const error = await expectStartRefused(ctx, policy, "POLICY_INVALID");
        const paths = issuePathsOf(error);
        for (const path of ["memory", "cpu", "pids", "ttlMs", "networkIsolation", "workdir"]) {
          expect(paths, `the error names ${path}`).toContain(path);
        }
        expect(
          paths.some((p) => p.startsWith("env")),
          "the error names env",
        ).toBe(true);
      },
      timeout(),
    );

    it(
      names.notAnObject,
      async () => {
        for (const policy of [null, "memory=1g", 42, ["memory"]]) {
          await expectStartRefused(ctx, policy, "POLICY_INVALID");
        }
      },
      timeout(),
    );

    it(
      names.unknownFields,
      async () => {
        const policy = ctx.policy({ gpu: 1, seccompProfile: "strict" });
        const error = await expectStartRefused(ctx, policy, "CAPABILITY_MISMATCH");
        expect(unsupportedOf(error)).toEqual(["gpu", "seccompProfile"]);
      },
      timeout(),
    );

    it(
      names.allListed,
      async () => {
        const extra: Record<string, unknown> = { gpu: 1 };
        const expected = ["gpu"];
        for (const field of policyFields) {
          if (field === "minimumIsolation" || ctx.enforced(field)) continue;
          extra[field] = requestValue(ctx, field);
          expected.push(field);
        }
        const above = levelsAbove()[0];
        if (above) {
          extra.minimumIsolation = above;
          expected.push("minimumIsolation");
        }
        const policy = ctx.policy(extra);
        // ctx.policy() adds image and labels: they are only expected when not enforced.
        const error = await expectStartRefused(ctx, policy, "CAPABILITY_MISMATCH");
        expect(unsupportedOf(error)).toEqual(expected.sort());
      },
      timeout(),
    );

    it(
      names.isolationAbove,
      async () => {
        const above = levelsAbove();
        if (above.length === 0) {
          // Nothing is stronger: the strongest level itself must be granted, not refused.
          const strongest = isolationLevels[isolationLevels.length - 1];
          expect(ctx.report.isolation).toBe(strongest);
          const id = await ctx.start({ minimumIsolation: strongest });
          expect((await ctx.provider.getSession(id)).state).toBe("running");
          const result = await ctx.provider.exec(id, ["echo", "strongest"]);
          expect(result).toMatchObject({ exitCode: 0, stdout: "strongest\n" });
          return;
        }
        for (const level of above) {
          const error = await expectStartRefused(
            ctx,
            ctx.policy({ minimumIsolation: level }),
            "CAPABILITY_MISMATCH",
          );
          expect(unsupportedOf(error)).toEqual(["minimumIsolation"]);
        }
      },
      timeout(),
    );

    it(
      names.isolationEqual,
      async () => {
        const id = await ctx.start({ minimumIsolation: ctx.report.isolation });
        expect((await ctx.provider.getSession(id)).state).toBe("running");
        const weakest = isolationLevels[0];
        const other = await ctx.start({ minimumIsolation: weakest });
        expect((await ctx.provider.getSession(other)).state).toBe("running");
      },
      timeout(),
    );

    describe("with one running session", () => {
      let session = "";
      beforeAll(async () => {
        session = await ctx.startShared();
      }, ctx.ms(60_000));
      afterAll(() => ctx.destroyShared(), ctx.ms(60_000));

      it(
        names.badArgv,
        async () => {
          const exec = (argv: unknown) => ctx.provider.exec(session, argv as string[]);
          for (const argv of [[], [""], ["echo", 42], ["echo", "a\0b"], "echo hi", null]) {
            await expectErrorCode(exec(argv), "POLICY_INVALID");
          }
          const error = await expectErrorCode(exec(["echo", 1, "ok", "x\0"]), "POLICY_INVALID");
          expect(issuePathsOf(error)).toEqual(expect.arrayContaining(["argv[1]", "argv[3]"]));
        },
        timeout(),
      );

      it(
        names.badExecOptions,
        async () => {
          const bad: unknown[] = [
            { timeoutMs: -5 },
            { timeoutMs: Number.NaN },
            { cwd: "relative" },
            { maxOutputBytes: -1 },
            { env: { "BAD-NAME": "x" } },
            { stdin: 42 },
          ];
          for (const options of bad) {
            await expectErrorCode(
              ctx.provider.exec(session, ["true"], options as never),
              "POLICY_INVALID",
            );
          }
        },
        timeout(),
      );

      it(
        names.badSessionIds,
        async () => {
          const ids: unknown[] = ["", "../etc", "UPPER", "a b", "x", "a".repeat(200), 42, null];
          // Not strings, and hard to even describe (found by fuzzing: they made error messages
          // throw a TypeError).
          ids.push(Object.create(null), { "": [[0n]] }, 12n, Symbol("id"), [1, [2]]);
          ids.push(unknownSessionId(ctx));
          for (const id of ids) {
            await expectErrorCode(ctx.provider.exec(id as string, ["true"]), "SESSION_NOT_FOUND");
            await expectErrorCode(ctx.provider.getSession(id as string), "SESSION_NOT_FOUND");
          }
        },
        timeout(),
      );
    });
  });
}
