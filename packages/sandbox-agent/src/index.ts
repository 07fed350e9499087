export { agentBinaryPath } from "./agent-binary.js";
export {
  type AgentExecOutcome,
  type AgentExecRequest,
  AgentFaultError,
  AgentLink,
  AgentLinkClosedError,
} from "./agent-link.js";
export { FrameReader, protocolName } from "./frames.js";
