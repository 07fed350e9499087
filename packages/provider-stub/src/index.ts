export { StubBackend } from "./backend.js";
export { stubCapabilities, stubCapabilityRows, stubProviderId } from "./capabilities.js";
export { providerDescriptor } from "./descriptor.js";
export {
  defaultStateDir,
  type ScriptedExec,
  type ScriptFunction,
  type StubOptions,
  type StubProviderOptions,
  stubOptionsSchema,
} from "./options.js";
export { createStubProvider, StubProvider } from "./stub-provider.js";
