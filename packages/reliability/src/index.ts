export { NoAnswerError, within } from "./bounded.js";
export {
  type Census,
  censusTotal,
  containerdCensus,
  dockerCensus,
  stubCensus,
} from "./census.js";
export { errorCode, errorMessage, WrongResultError } from "./error-code.js";
export { heapAfterGc, openFdCount, type ProcessSample, sampleProcess } from "./process-meter.js";
export { runSoak, type SoakOptions, type SoakReport } from "./soak.js";
export {
  createTarget,
  defaultSoakProvider,
  isTargetName,
  type Target,
  type TargetName,
  targetNameFor,
  targetNames,
  targetOptions,
  variantsByProvider,
} from "./targets.js";
export {
  type HostTarget,
  hostTargets,
  type TargetEndpoints,
  testEngineOptions,
  testHost,
} from "./test-host.js";
export { ThrowawayContainerd } from "./throwaway/containerd.js";
export { DaemonProcess } from "./throwaway/daemon-process.js";
export { ThrowawayDockerd } from "./throwaway/dockerd.js";
export { removeTree } from "./throwaway/remove-tree.js";
