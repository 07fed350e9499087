export {
  describeWhenAvailable,
  engineUnavailableReason,
  isCi,
} from "./availability.js";
export type { ConformanceOptions, ForeignObject } from "./options.js";
export {
  boundaryReportArgv,
  escapedSuffixes,
  escapingTreeArgv,
  forkProbeArgv,
  keyValues,
  killByTokenArgv,
  lingeringTreeArgv,
  listProcessesArgv,
  memoryHogArgv,
} from "./probes.js";
export { conformanceSuiteTitle, runConformance } from "./run-conformance.js";
export { runLabelKey, testLabelKey } from "./suite-context.js";
export { type ConformanceArea, conformanceTestNames } from "./test-names.js";
