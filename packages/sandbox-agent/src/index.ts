export { type AgentBinaryFit, agentBinaryFit, agentBinaryPath } from "./agent-binary.js";
export {
  type AgentExecOutcome,
  type AgentExecRequest,
  AgentFaultError,
  AgentLink,
  AgentLinkClosedError,
  AgentRefusedError,
} from "./agent-link.js";
export {
  AgentProcessChannel,
  type AgentProcessExit,
  ProcessDetachedError,
  type ProcessOutput,
} from "./agent-process.js";
export { ElfFormatError, type ElfInfo, readElfInfo } from "./elf.js";
export {
  AgentFileError,
  AgentFileInterruptedError,
  AgentFiles,
  type ArchiveSummary,
  type Checksummed,
  type FileCallOptions,
  type WriteOptions,
} from "./files/agent-files.js";
export {
  type EntryRecord,
  encodeRecord,
  MalformedRecordError,
  maxRecordText,
  type RecordEvent,
  type RecordKind,
  RecordReader,
} from "./files/records.js";
export type { AttachedFrame, ProcessInfoFrame } from "./frames.js";
export {
  FrameReader,
  MalformedFrameError,
  protocolName,
  refusalOfExitCode,
} from "./frames.js";
export {
  agentArgs,
  agentCapabilities,
  agentConnectArgv,
  agentMountPath,
  agentUid,
} from "./sandbox-setup.js";
