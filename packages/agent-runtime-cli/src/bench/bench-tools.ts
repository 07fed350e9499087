import type { BenchTools } from "@cadre/agent-runtime-provider-utils";
import { UsageError } from "../cli/usage-error.js";
import { execInOneSandbox, sandboxContender } from "./contender.js";
import { sandboxMemory } from "./memory.js";
import { agentExecTargets } from "./target-checks.js";
import { runCli } from "./tools/cli-process.js";
import { PremadeFifos } from "./tools/fifo-stdio.js";
import { hostSpawnContender } from "./tools/host-spawn.js";
import { localTarTools } from "./tools/local-tar.js";

/**
 * What `bench` lends every provider's baseline (BenchBaselineInput.tools): the bench's own way of
 * running a CLI, making pipes, spawning a host process, reading memory and choosing targets, so
 * that every engine is measured alike and no provider keeps a copy.
 */
export const benchTools: BenchTools = {
  runCli,
  premadeFifos: () => PremadeFifos.create(),
  hostProcessContender: hostSpawnContender,
  sandboxContender,
  execInOneSandbox,
  sandboxMemory,
  engineTargets: agentExecTargets,
  usageError: (message) => new UsageError(message, "bench"),
  ...localTarTools,
};
