export {
  type AgentExecJudge,
  agentKillMethod,
  type CommandDefaults,
  execThroughAgent,
  type JudgedEnd,
  withEnv,
} from "./agent-exec.js";
export { AgentLinks, type HeldAgent, openAgentLink } from "./agent-links.js";
export {
  type BackendHooks,
  expiredSessionLabels,
  type ForeignBackendObject,
} from "./backend-hooks.js";
export type {
  BenchBaselineInput,
  BenchEngine,
  BenchTools,
  Contender,
  EngineTargets,
  FifoStdio,
  FilesContender,
  FilesTargets,
  IdleMemory,
  PremadeFifos,
  SandboxLifecycle,
} from "./descriptor/bench-baseline.js";
export {
  absolutePathOption,
  imageReferenceOption,
  sessionEndRetentionOption,
  withoutWhiteSpace,
} from "./descriptor/option-schemas.js";
export { parseProviderOptions } from "./descriptor/parse-options.js";
export {
  type AutomaticChoice,
  defineProvider,
  offersNoIsolation,
  type ProviderDescriptor,
} from "./descriptor/provider-descriptor.js";
export { ExecDeadline } from "./exec-deadline.js";
export { type CommandOutcome, execResultOf, withCause } from "./exec-result.js";
export { LifecycleFiles } from "./files/lifecycle-files.js";
export { linkStaysInside } from "./files/tar-in.js";
export type { AgentFeatureHost } from "./lifecycle/agent-features.js";
export type {
  BackendSession,
  EngineEvent,
  NewSession,
  SessionAgentAccess,
  SessionBackend,
} from "./lifecycle/session-backend.js";
export {
  asEngineLoss,
  type EndRecord,
  type EndRecordStore,
  endOfExit,
  endRecordLabels,
  parseReapReason,
  parseRecordedEnd,
  type ReapReason,
  reapReasons,
  recordedEnd,
  type SandboxExit,
} from "./lifecycle/session-ends.js";
export { type LifecycleConfig, SessionLifecycle } from "./lifecycle/session-lifecycle.js";
export { OutputCollector } from "./output-collector.js";
export { currentOwner, type OwnerStatus, ownerStatus } from "./ownership.js";
export { LifecycleProcesses } from "./processes/lifecycle-processes.js";
export {
  buildSessionLabels,
  envNamesOf,
  isExpired,
  isReapable,
  isSessionOf,
  joinLabel,
  listedPolicy,
  matchesLabels,
  maxLabelBytes,
  newSessionId,
  reapReason,
  type SessionLabelInput,
  sessionInfoFromLabels,
  splitLabel,
} from "./session-labels.js";
export { settlesWithin } from "./settles-within.js";
export { exitCodeForSignal, signalForExitCode } from "./signals.js";
export { maxTimerDelayMs, TtlTimers } from "./ttl-timers.js";
export {
  type CgroupReading,
  cgroupOfProcess,
  readCgroup,
  usageOfCgroup,
} from "./usage/cgroup-usage.js";
export { type LimitSeen, LimitWatch, limitSeen } from "./usage/limit-watch.js";
