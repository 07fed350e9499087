import { describe } from "vitest";
import type { ConformanceContext } from "../../suite-context.js";
import { registerBoundaryProbes } from "./boundary.js";
import { registerDeadlineProbes } from "./deadline.js";
import { registerDefaultsProbes } from "./defaults.js";
import { registerNetworkProbes } from "./network.js";
import { registerOwnershipProbes } from "./ownership.js";
import { registerSessionInitProbes } from "./session-init.js";

/**
 * The probes of a tenant that attacks its sandbox and the provider around it: each one is a hole
 * that was open once, checked on every provider so that none opens it again.
 */
export function registerHostileTenant(ctx: ConformanceContext): void {
  describe("hostile tenant", () => {
    registerOwnershipProbes(ctx);
    registerDeadlineProbes(ctx);
    registerNetworkProbes(ctx);
    registerDefaultsProbes(ctx);
    registerBoundaryProbes(ctx);
    registerSessionInitProbes(ctx);
  });
}
