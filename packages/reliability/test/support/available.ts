import { describeWhenAvailable } from "@cadre/agent-runtime-conformance";
import { createTarget, type Target, type TargetName } from "../../src/index.js";

/**
 * describe() for one target: skipped with the reason when its engine is unreachable, failing
 * instead under CI=true.
 */
export async function describeTarget(
  name: TargetName,
  title: string,
  body: (target: Target) => void,
): Promise<void> {
  const target = createTarget(name);
  const reason = await target.unavailableReason();
  describeWhenAvailable(`${title} [${name}]`, reason, () => body(target));
}

/** Engine targets the suites run on; kata-stand-in shares kata-runc's code path and shim. */
export const engineTargets: TargetName[] = [
  "docker-runc",
  "docker-runsc",
  "kata-runc",
  "kata-runsc",
];
