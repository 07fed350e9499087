import {
  BackendError,
  type DoctorCheck,
  ProviderUnavailableError,
} from "@cadre/agent-runtime-contract";
import type { DockerClient, NetworkFacts } from "./docker-client.js";
import { type HostFacts, runscWithoutNetwork } from "./host-facts.js";
import {
  firewallAccess,
  type GuardStatus,
  guardCommands,
  inspectGuard,
  installGuard,
} from "./network-guard.js";
import type { DockerRuntime, SessionNetworkOptions } from "./options.js";

export const defaultSessionNetwork = {
  name: "cadre-sessions",
  bridge: "cadre0",
  hostGuard: "provider",
} as const satisfies Required<SessionNetworkOptions>;

/** Labels of the network. Fixed keys: one network serves every label prefix on a daemon. */
export const sessionNetworkLabels = {
  "cadre.agent-runtime/provider": "docker",
  "cadre.agent-runtime/role": "session-network",
};

const bridgeOptions = (bridge: string) => ({
  "com.docker.network.bridge.name": bridge,
  "com.docker.network.bridge.enable_icc": "false",
});

const checkId = "docker.network";
const checkTitle = "session network: sessions cannot reach each other, the host or 169.254.0.0/16";

/**
 * The one Docker network that sessions without networkIsolation join: a bridge with
 * inter-container traffic off, shared by every provider instance on the daemon and never removed
 * by the provider. Its host guard (network-guard.ts) is checked before each session joins.
 */
export class SessionNetwork {
  readonly name: string;
  readonly bridge: string;
  readonly hostGuard: "provider" | "external";

  constructor(
    private readonly client: DockerClient,
    options: SessionNetworkOptions = {},
  ) {
    this.name = options.name ?? defaultSessionNetwork.name;
    this.bridge = options.bridge ?? defaultSessionNetwork.bridge;
    this.hostGuard = options.hostGuard ?? defaultSessionNetwork.hostGuard;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(this.bridge)) {
      throw this.unavailable("The sessionNetwork.bridge option is not a usable interface name.", {
        detail: `"${this.bridge}" is not 1 to 15 letters, digits, "_", "." or "-"`,
        fix: 'set sessionNetwork.bridge to a short interface name such as "cadre0"',
      });
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(this.name)) {
      throw this.unavailable("The sessionNetwork.name option is not a usable network name.", {
        detail: `"${this.name}" is not letters, digits, "_", "." or "-"`,
        fix: 'set sessionNetwork.name to a name such as "cadre-sessions"',
      });
    }
  }

  /**
   * The network's id, after making sure that it exists as the provider's and that its host guard
   * is in place. Throws PROVIDER_UNAVAILABLE otherwise: no session joins an unguarded network.
   */
  async prepare(): Promise<string> {
    const network = (await this.find()) ?? (await this.create());
    if (this.hostGuard === "provider") {
      const status = await installGuard(this.bridge);
      if (status.state !== "in-place") {
        throw this.unavailable(
          `Sessions without networkIsolation join the Docker network ${this.name}, and its host guard is not in place, so they could reach the host or 169.254.169.254; nothing was started. Ask for networkIsolation: true, or fix the guard.`,
          this.guardDetail(status),
        );
      }
    }
    return network.id;
  }

  /** For doctor: reads the daemon and the firewall, changes nothing. */
  async check(): Promise<DoctorCheck> {
    const base = { id: checkId, title: checkTitle };
    let network: NetworkFacts | undefined;
    try {
      network = await this.find();
    } catch (error) {
      const own = ProviderUnavailableError.isInstance(error) ? error.checks[0] : undefined;
      if (own?.id === checkId) return own;
      return { ...base, ok: false, required: true, detail: (error as Error).message };
    }
    const where = network
      ? `network ${this.name} (bridge ${this.bridge}, inter-container traffic off)`
      : `network ${this.name} not created yet (the first session without networkIsolation creates it)`;
    if (this.hostGuard === "external") {
      return {
        ...base,
        ok: false,
        required: false,
        detail: `${where}; host rules not verified: sessionNetwork.hostGuard is "external", the operator keeps them in place`,
        fix: `on the daemon's host, as root: ${guardCommands(this.bridge).join("; ")}`,
      };
    }
    if (!network) {
      const denied = await firewallAccess(this.bridge);
      return denied
        ? {
            ...base,
            ok: false,
            required: true,
            detail: `${where}; ${denied.reason}`,
            fix: denied.fix,
          }
        : {
            ...base,
            ok: true,
            required: true,
            detail: `${where}; this process can install its host rules`,
          };
    }
    const status = await inspectGuard(this.bridge);
    if (status.state === "in-place") {
      return { ...base, ok: true, required: true, detail: `${where}; host rules in place` };
    }
    const { detail, fix } = this.guardDetail(status);
    // Missing rules that this process may add are added before the next session joins.
    const ok = status.state === "missing";
    return { ...base, ok, required: true, detail: `${where}; ${detail}`, fix };
  }

  private guardDetail(status: GuardStatus): { detail: string; fix: string } {
    if (status.state === "unverifiable") return { detail: status.reason, fix: status.fix };
    const missing = status.state === "missing" ? status.rules : [];
    return {
      detail: `host rules missing for: ${missing.map((r) => r.blocks).join("; ")}`,
      fix: `as root on the daemon's host, run: ${guardCommands(this.bridge).join("; ")}`,
    };
  }

  /** The network of that name, checked to be the provider's; undefined when there is none. */
  private async find(): Promise<NetworkFacts | undefined> {
    // Two with the name can exist after a race on an old daemon, and then the bridge name decides
    // which one is real (the daemon allows one network per bridge).
    const named = await this.client.networksNamed(this.name);
    if (named.length === 0) return undefined;
    const problems = named.map((n) => this.mismatch(n));
    const index = problems.indexOf(undefined);
    if (index >= 0) return named[index];
    throw this.unavailable(
      `A Docker network named ${this.name} exists but is not the provider's session network.`,
      {
        detail: problems.join("; "),
        fix: `remove it (\`docker network rm ${this.name}\`) if nothing uses it, or set sessionNetwork.name and sessionNetwork.bridge to another pair`,
      },
    );
  }

  private mismatch(network: NetworkFacts): string | undefined {
    const { labels, options } = network;
    const wanted = bridgeOptions(this.bridge);
    if (Object.entries(sessionNetworkLabels).some(([k, v]) => labels[k] !== v))
      return `it lacks the labels ${JSON.stringify(sessionNetworkLabels)}`;
    if (network.driver !== "bridge") return `its driver is ${network.driver}, not bridge`;
    for (const [key, value] of Object.entries(wanted)) {
      if (options[key] !== value)
        return `its option ${key} is ${options[key] ?? "unset"}, not ${value}`;
    }
    if (network.ipv6) return "it has IPv6 enabled";
    return undefined;
  }

  private async create(): Promise<NetworkFacts> {
    const refused = await this.client.createNetwork({
      Name: this.name,
      Driver: "bridge",
      CheckDuplicate: true,
      EnableIPv6: false,
      Internal: false,
      Attachable: false,
      Labels: sessionNetworkLabels,
      Options: bridgeOptions(this.bridge),
    });
    // Refused (409: the name, 403: the bridge name): another instance may have won the race, or
    // the name is another network's, which find() refuses with its reason.
    const created = await this.find();
    if (created) return created;
    if (refused) {
      throw this.unavailable(`Cannot create the Docker network ${this.name}.`, {
        detail: refused.taken,
        fix: `free the bridge name ${this.bridge} (\`docker network ls\`, \`ip link show ${this.bridge}\`) or set sessionNetwork.bridge to another name`,
      });
    }
    throw new BackendError(
      `The Docker network ${this.name} was removed right after its creation; retry.`,
      { providerId: this.client.providerId },
    );
  }

  private unavailable(
    message: string,
    check: { detail: string; fix: string },
  ): ProviderUnavailableError {
    return new ProviderUnavailableError(message, {
      providerId: this.client.providerId,
      checks: [{ id: checkId, title: checkTitle, ok: false, required: true, ...check }],
    });
  }
}

/**
 * Whether a session joins the session network. Not with networkIsolation (NetworkMode "none"),
 * and not under a runsc the daemon starts with --network=none: that sandbox has loopback only
 * anyway, so it needs neither the network nor its host guard.
 */
export function joinsSessionNetwork(
  policy: { networkIsolation?: boolean },
  runtime: DockerRuntime,
  facts: HostFacts,
): boolean {
  if (policy.networkIsolation) return false;
  // Podman's bridges are not guarded by the host rules: its sessions get no network at all.
  if (facts.engine === "podman") return false;
  return !(runtime === "runsc" && runscWithoutNetwork(facts));
}
