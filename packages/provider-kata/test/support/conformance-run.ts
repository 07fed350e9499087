import { type ConformanceOptions, runConformance } from "@cadre/agent-runtime-conformance";
import { createKataProvider } from "../../src/index.js";
import {
  containerdUnavailableReason,
  findBackendLeftovers,
  findEndRecords,
  killFromOutside,
  plantForeignObjects,
  readBackendLabels,
  testImage,
  type Variant,
  variantOptions,
} from "./containerd-env.js";

const moduleUrl = new URL("../fixtures/provider-module.mjs", import.meta.url);

/** Registers the conformance suite for one way of driving the containerd path. */
export async function runKataConformance(
  name: string,
  variant: Variant,
  timeScale = 1,
  extra: Pick<ConformanceOptions, "restartEngine"> = {},
): Promise<void> {
  const unavailableReason = await containerdUnavailableReason();
  const providerModule = new URL(moduleUrl);
  providerModule.searchParams.set("variant", variant);
  runConformance({
    name,
    createProvider: () => createKataProvider(variantOptions(variant)),
    image: testImage,
    unavailableReason,
    findBackendLeftovers,
    findEndRecords,
    readBackendLabels,
    plantForeignObjects,
    killFromOutside,
    providerModule: providerModule.href,
    timeScale,
    concurrentSessions: 4,
    ...extra,
  });
}
