import { ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import { SessionLifecycle } from "@cadre/agent-runtime-provider-utils";
import type { KataAdapter } from "./adapter.js";
import { AdapterBackend, isKataAdapter } from "./adapter-backend.js";
import { providerId } from "./capabilities.js";
import { ContainerdBackend } from "./containerd-backend.js";
import type { KataProviderOptions } from "./options.js";

/**
 * Kata Containers through containerd: a micro-VM per session. `new KataProvider()` and
 * `new KataProvider(options)` use containerd and fail closed (PROVIDER_UNAVAILABLE with the
 * failed doctor checks) on a host that cannot run Kata. `new KataProvider(adapter)` runs the same
 * lifecycle over a seed KataAdapter, e.g. the no-op StubKataAdapter for unit tests.
 */
export class KataProvider extends SessionLifecycle {
  /** The containerd backend; undefined when the provider runs over a seed adapter. */
  readonly containerd: ContainerdBackend | undefined;

  constructor(adapterOrOptions?: KataAdapter | KataProviderOptions) {
    const backend = isKataAdapter(adapterOrOptions)
      ? new AdapterBackend(adapterOrOptions)
      : new ContainerdBackend(adapterOrOptions ?? {});
    super(
      backend,
      backend instanceof ContainerdBackend
        ? { sessionEndRetentionMs: backend.options.sessionEndRetentionMs }
        : {},
    );
    this.containerd = backend instanceof ContainerdBackend ? backend : undefined;
  }

  /**
   * Loads a `docker save` or OCI image archive into the provider's containerd namespace and
   * unpacks it, so sessions can use it without a registry. Returns the image names.
   */
  async importImage(tarball: string, options: { name?: string } = {}): Promise<string[]> {
    if (!this.containerd) {
      throw new ProviderUnavailableError(
        "importImage needs the containerd backend; this provider runs over a custom adapter.",
        { providerId },
      );
    }
    const images = await this.containerd.importImage(tarball, options);
    return images.map((i) => i.name);
  }
}

/** The loader's entry point. */
export function createKataProvider(options: KataProviderOptions = {}): KataProvider {
  return new KataProvider(options);
}
