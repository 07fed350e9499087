import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";

/**
 * The host firewall rules that keep sessions on the provider's bridge away from the host and from
 * link-local addresses, and from each other. Docker has no API for the first two, so they are
 * iptables rules naming the bridge; they live in chains Docker never rewrites (INPUT, DOCKER-USER).
 */
export interface GuardRule {
  chain: "INPUT" | "DOCKER-USER";
  /** The rule's match and target, as iptables arguments after the chain. */
  spec: string[];
  /** What it blocks, for reports. */
  blocks: string;
}

const comment = ["-m", "comment", "--comment", "cadre session network guard"];

export function guardRules(bridge: string): GuardRule[] {
  return [
    {
      chain: "INPUT",
      spec: ["-i", bridge, ...comment, "-j", "DROP"],
      blocks: "every address of the host itself (its gateway on the bridge included)",
    },
    {
      chain: "DOCKER-USER",
      spec: ["-i", bridge, "-o", bridge, ...comment, "-j", "DROP"],
      blocks: "session to session",
    },
    {
      chain: "DOCKER-USER",
      spec: ["-i", bridge, "-d", "169.254.0.0/16", ...comment, "-j", "DROP"],
      blocks: "link-local addresses (cloud metadata at 169.254.169.254)",
    },
  ];
}

/** The shell commands that install the rules, for fixes and docs. */
export function guardCommands(bridge: string): string[] {
  return guardRules(bridge).map(
    (r) => `iptables -w -I ${r.chain} 1 ${r.spec.map(quote).join(" ")}`,
  );
}

function quote(arg: string): string {
  return /^[\w./:-]+$/.test(arg) ? arg : `'${arg}'`;
}

export type GuardStatus =
  | { state: "in-place" }
  /** The provider can read the firewall and these rules are not there. */
  | { state: "missing"; rules: GuardRule[] }
  /** The provider cannot tell: not root, not on the daemon's host, no iptables. */
  | { state: "unverifiable"; reason: string; fix: string };

interface RunResult {
  code: number;
  stderr: string;
}

export type IptablesRunner = (args: string[]) => Promise<RunResult>;

/** Generous: the xtables lock may be held by dockerd while it sets up other networks. */
const iptablesTimeoutMs = 60_000;

export const runIptables: IptablesRunner = (args) =>
  new Promise((resolve) => {
    execFile("iptables", ["-w", ...args], { timeout: iptablesTimeoutMs }, (error, _out, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      const missing = (error as NodeJS.ErrnoException | null)?.code === "ENOENT";
      resolve({ code, stderr: missing ? "iptables: command not found" : String(stderr).trim() });
    });
  });

const bridgeNetfilter = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/**
 * Whether this process can read and change the chains the rules go in; undefined when it can,
 * else why not.
 */
export async function firewallAccess(
  bridge: string,
  run: IptablesRunner = runIptables,
): Promise<Extract<GuardStatus, { state: "unverifiable" }> | undefined> {
  const chain = await run(["-S", "DOCKER-USER"]);
  if (chain.code === 0) return undefined;
  return {
    state: "unverifiable",
    reason: `cannot read the DOCKER-USER chain: ${chain.stderr || `iptables exited with ${chain.code}`}`,
    fix: /root|permission/i.test(chain.stderr)
      ? `run the provider as root on the daemon's host (it then installs the rules), or ${installFix(bridge)} and set sessionNetwork.hostGuard to "external"`
      : "run dockerd with iptables management on (the default; not --iptables=false) and install iptables on the host",
  };
}

function installFix(bridge: string): string {
  return `as root on the Docker daemon's host, run: ${guardCommands(bridge).join("; ")}`;
}

/** Reads the host's firewall; changes nothing. */
export async function inspectGuard(
  bridge: string,
  run: IptablesRunner = runIptables,
): Promise<GuardStatus> {
  if (!(await readFile(`/sys/class/net/${bridge}/bridge/bridge_id`, "utf8").catch(() => ""))) {
    return {
      state: "unverifiable",
      reason: `this process does not see the bridge ${bridge}: it does not run in the network namespace of the Docker daemon's host`,
      fix: `run cadre on the daemon's host, or ${installFix(bridge)} and set sessionNetwork.hostGuard to "external"`,
    };
  }
  const netfilter = (await readFile(bridgeNetfilter, "utf8").catch(() => "")).trim();
  if (netfilter !== "1") {
    return {
      state: "unverifiable",
      reason: `bridged traffic bypasses iptables (${bridgeNetfilter} is ${netfilter || "absent"})`,
      fix: "modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1 (dockerd does this when it manages iptables)",
    };
  }
  const access = await firewallAccess(bridge, run);
  if (access) return access;
  const missing: GuardRule[] = [];
  for (const rule of guardRules(bridge)) {
    const result = await run(["-C", rule.chain, ...rule.spec]);
    if (result.code === 0) continue;
    if (result.code === 1 && /does a matching rule exist|bad rule/i.test(result.stderr)) {
      missing.push(rule);
      continue;
    }
    return {
      state: "unverifiable",
      reason: `iptables -C ${rule.chain} failed: ${result.stderr || `exit ${result.code}`}`,
      fix: installFix(bridge),
    };
  }
  return missing.length === 0 ? { state: "in-place" } : { state: "missing", rules: missing };
}

/** Installs in progress in this process, per bridge: sessions starting at once add each rule once. */
const installs = new Map<string, Promise<GuardStatus>>();

/**
 * Inserts the missing rules at the top of their chains, then reads the firewall again. Two
 * processes installing at the same moment may both add a rule; a duplicate DROP is harmless and
 * removeGuard() deletes every copy.
 */
export function installGuard(
  bridge: string,
  run: IptablesRunner = runIptables,
): Promise<GuardStatus> {
  const previous = installs.get(bridge) ?? Promise.resolve();
  const install = () => installOnce(bridge, run);
  const next = previous.then(install, install);
  installs.set(bridge, next);
  const forget = () => {
    if (installs.get(bridge) === next) installs.delete(bridge);
  };
  next.then(forget, forget);
  return next;
}

async function installOnce(bridge: string, run: IptablesRunner): Promise<GuardStatus> {
  const status = await inspectGuard(bridge, run);
  if (status.state !== "missing") return status;
  for (const rule of status.rules) {
    const result = await run(["-I", rule.chain, "1", ...rule.spec]);
    if (result.code !== 0) {
      return {
        state: "unverifiable",
        reason: `iptables -I ${rule.chain} failed: ${result.stderr || `exit ${result.code}`}`,
        fix: installFix(bridge),
      };
    }
  }
  return inspectGuard(bridge, run);
}

/** Deletes every copy of the rules (two providers installing at once may have added two). */
export async function removeGuard(
  bridge: string,
  run: IptablesRunner = runIptables,
): Promise<void> {
  for (const rule of guardRules(bridge)) {
    while ((await run(["-D", rule.chain, ...rule.spec])).code === 0) {}
  }
}
