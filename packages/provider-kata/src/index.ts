export { CapabilityMismatchError } from "@cadre/agent-runtime-contract";
export type { KataAdapter, KataExecResult, KataSessionConfig } from "./adapter.js";
export { kataBackendHooks } from "./backend-hooks.js";
export { kataCapabilityRows } from "./capabilities.js";
export { ContainerdClient } from "./containerd/client.js";
export {
  findLabelledObjects,
  type LabelledObject,
  type LabelledObjectKind,
} from "./containerd/labelled-objects.js";
export { ContainerdBackend } from "./containerd-backend.js";
export { providerDescriptor } from "./descriptor.js";
export { type KataProviderOptions, kataOptionsSchema, kataRuntime } from "./options.js";
export { createKataProvider, KataProvider } from "./provider.js";
export type { OciSpec } from "./spec/oci-types.js";
export type { RuntimeOptions } from "./spec/runtime-options.js";
export { kataAnnotations } from "./spec/session-spec.js";
export { StubKataAdapter } from "./stub-adapter.js";
export { kataUnavailableReason } from "./unavailable-reason.js";
