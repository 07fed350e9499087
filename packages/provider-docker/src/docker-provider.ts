import { parseProviderOptions, SessionLifecycle } from "@cadre/agent-runtime-provider-utils";
import { type ContainerSpecInput, containerSpec } from "./container-spec.js";
import { DockerBackend } from "./docker-backend.js";
import type { ContainerSpec } from "./docker-client.js";
import { type DockerProviderOptions, type DockerRuntime, dockerOptionsSchema } from "./options.js";

/**
 * Sessions as Docker containers, through the Engine API (dockerode). Runtime "runc" gives a
 * hardened container, "runsc" a gVisor sandbox.
 */
export class DockerProvider extends SessionLifecycle {
  readonly runtime: DockerRuntime;
  readonly image: string;

  constructor(options: DockerProviderOptions = {}) {
    const parsed = parseProviderOptions("docker", dockerOptionsSchema, options);
    const backend = new DockerBackend(parsed, (input) => this.containerSpecFor(input));
    super(backend, { sessionEndRetentionMs: parsed.sessionEndRetentionMs });
    this.runtime = backend.runtime;
    this.image = backend.image;
  }

  /**
   * The container of one session. A subclass may change it only to break it on purpose: the
   * conformance self-test strips the hardening this way to prove the boundary probe catches it.
   */
  protected containerSpecFor(input: ContainerSpecInput): ContainerSpec {
    return containerSpec(input);
  }
}

export function createDockerProvider(options?: DockerProviderOptions): DockerProvider {
  return new DockerProvider(options);
}
