import {
  defineProvider,
  parseProviderOptions,
  SessionLifecycle,
} from "@cadre/agent-runtime-provider-utils";
import type { z } from "zod";
import { miniDockerBackendHooks } from "./backend-hooks.js";
import { miniDockerCapabilities, miniDockerId } from "./capabilities.js";
import { MiniDockerBackend } from "./mini-docker-backend.js";
import { miniDockerOptionsSchema } from "./options.js";

export class MiniDockerProvider extends SessionLifecycle {
  constructor(options: z.input<typeof miniDockerOptionsSchema> = {}) {
    super(
      new MiniDockerBackend(parseProviderOptions(miniDockerId, miniDockerOptionsSchema, options)),
    );
  }
}

export const providerDescriptor = defineProvider({
  id: miniDockerId,
  packageName: "@cadre/agent-runtime-docs-examples (test/worked-provider)",
  title: "Docker containers, the worked example of writing-a-provider.md",
  optionsSchema: miniDockerOptionsSchema,
  create: (options) => new MiniDockerProvider(options),
  capabilityRows: [miniDockerCapabilities],
  backendHooks: (options) => miniDockerBackendHooks(options),
});
