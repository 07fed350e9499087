import { describe } from "vitest";
import type { ConformanceContext } from "../../suite-context.js";
import {
  registerFileBasics,
  registerFilePolicies,
  registerFileSessionErrors,
  registerFilesUnsupported,
} from "./basics.js";
import { registerFileHostileProbes } from "./hostile.js";

/**
 * The files area (contract v1 addition): what provider.files promises, on real sessions, and the
 * probes of a tenant that turns it against the host. A provider whose report says
 * `features.files: false` passes by refusing every call.
 */
export function registerFiles(ctx: ConformanceContext): void {
  describe("files", () => {
    registerFilesUnsupported(ctx);
    registerFileBasics(ctx);
    registerFilePolicies(ctx);
    registerFileSessionErrors(ctx);
    registerFileHostileProbes(ctx);
  });
}
