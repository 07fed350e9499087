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
  isTargetName,
  kataOptions,
  type Target,
  type TargetEndpoints,
  type TargetName,
  targetNameFor,
  targetNames,
} from "./targets.js";
export { testHost } from "./test-host.js";
export { ThrowawayContainerd } from "./throwaway/containerd.js";
export { DaemonProcess } from "./throwaway/daemon-process.js";
export { ThrowawayDockerd } from "./throwaway/dockerd.js";
export { removeTree } from "./throwaway/remove-tree.js";
