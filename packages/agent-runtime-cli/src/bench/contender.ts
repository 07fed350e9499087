import type { BenchTools, Contender, SandboxLifecycle } from "@cadre/agent-runtime-provider-utils";

/** A contender that starts and destroys its own sandboxes and runs `true` in them, in every phase. */
export const sandboxContender: BenchTools["sandboxContender"] = ({
  name,
  kind,
  sandbox,
  runTrue,
}) => ({
  name,
  kind,
  lifecycle: sandbox,
  firstExec: runTrue,
  exec: execInOneSandbox(sandbox, runTrue),
});

/** The exec phase of a contender: `run` gets one sandbox made in setup and removed in teardown. */
export function execInOneSandbox(
  sandbox: SandboxLifecycle,
  run: (id: string) => Promise<void>,
): NonNullable<Contender["exec"]> {
  let id: string | undefined;
  return {
    async setup() {
      id = await sandbox.start();
    },
    run: () => run(id!),
    async teardown() {
      if (id) await sandbox.destroy(id);
      id = undefined;
    },
  };
}
