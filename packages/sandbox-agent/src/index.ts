export { agentBinaryPath } from "./agent-binary.js";
export {
  type AgentExecOutcome,
  type AgentExecRequest,
  AgentFaultError,
  AgentLink,
  AgentLinkClosedError,
  AgentRefusedError,
} from "./agent-link.js";
export { FrameReader, MalformedFrameError, protocolName } from "./frames.js";
