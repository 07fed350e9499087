export { type AgentBinaryFit, agentBinaryFit, agentBinaryPath } from "./agent-binary.js";
export {
  type AgentExecOutcome,
  type AgentExecRequest,
  AgentFaultError,
  AgentLink,
  AgentLinkClosedError,
  AgentRefusedError,
} from "./agent-link.js";
export { ElfFormatError, type ElfInfo, readElfInfo } from "./elf.js";
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
