import { type DoctorCheck, type DoctorReport, doctorReport } from "@cadre/agent-runtime-contract";
import { agentBinaryFit } from "@cadre/agent-runtime-sandbox-agent";
import { providerId } from "../capabilities.js";
import type { ContainerdClient } from "../containerd/client.js";
import { grpcDetails, isNotFound } from "../containerd/grpc-errors.js";
import { normalizeImageRef } from "../containerd/image-ref.js";
import { isKataRuntime, type ResolvedKataOptions, shimBinaryName } from "../options.js";
import { cpuVirtualization, openDevice, runCommand } from "./probes.js";
import type { RuntimeProfile } from "./runtime-profile.js";

function versionAtLeast(version: string, major: number, minor: number): boolean {
  const match = /(\d+)\.(\d+)/.exec(version);
  if (!match) return false;
  const [a, b] = [Number(match[1]), Number(match[2])];
  return a > major || (a === major && b >= minor);
}

async function vmChecks(required: boolean): Promise<DoctorCheck[]> {
  const kvm = await openDevice("/dev/kvm");
  const cpu = await cpuVirtualization();
  const vsock = await openDevice("/dev/vhost-vsock");
  const cpuDetail = cpu.flag
    ? `CPU flag ${cpu.flag} present${cpu.guest ? " (this host is itself a VM: nested virtualisation)" : ""}`
    : kvm.ok
      ? `no vmx/svm flag, yet /dev/kvm works: KVM is provided another way (nested virtualisation without the flag, or PVM)${cpu.guest ? " on a host that is itself a VM" : ""}`
      : "no vmx/svm CPU flag and no usable /dev/kvm";
  return [
    {
      id: "kata.kvm",
      title: "/dev/kvm usable",
      ok: kvm.ok,
      required,
      detail: kvm.detail,
      fix: "Enable VT-x/AMD-V (or nested virtualisation on a cloud VM), load kvm_intel or kvm_amd, and give this user read-write access to /dev/kvm.",
    },
    {
      id: "kata.cpu-virtualization",
      title: "CPU virtualisation",
      ok: cpu.flag !== undefined || kvm.ok,
      required,
      detail: cpuDetail,
      fix: "Enable Intel VT-x or AMD-V in firmware, or nested virtualisation for this VM at the cloud provider.",
    },
    {
      id: "kata.vhost-vsock",
      title: "/dev/vhost-vsock present",
      ok: vsock.ok,
      required,
      detail: vsock.ok
        ? vsock.detail
        : `${vsock.detail}: Kata's shim talks to the agent in the VM over vsock, so real Kata cannot run on this host`,
      fix: "Load the vhost_vsock module (modprobe vhost_vsock); on a VM, the hypervisor must expose vsock to this guest.",
    },
  ];
}

function shimChecks(options: ResolvedKataOptions, profile: RuntimeProfile): DoctorCheck[] {
  const shim = profile.kataShim;
  if (!shim) return [];
  const binary = shimBinaryName(options.runtime);
  if (!shim.path) {
    return [
      {
        id: "kata.shim",
        title: `${binary} on containerd's PATH`,
        ok: false,
        required: true,
        detail: `not found in ${shim.searched.join(":")}`,
        fix: `Install Kata Containers so that ${binary} is on the PATH of containerd (e.g. /usr/local/bin), then restart containerd.`,
      },
    ];
  }
  if (shim.genuine) {
    return [
      {
        id: "kata.shim",
        title: `${binary} is Kata's`,
        ok: true,
        required: true,
        detail: `${shim.path}: ${shim.version}`,
      },
    ];
  }
  const checks: DoctorCheck[] = [
    {
      id: "kata.shim",
      title: `${binary} is Kata's`,
      ok: false,
      // The stand-in is accepted only with the explicit test-only option, never silently.
      required: !options.unsafeUseStandInShim,
      detail: `${shim.path} is not Kata's shim: its --version says ${JSON.stringify(shim.version || "nothing")}`,
      fix: `Install Kata Containers' ${binary} in place of this binary.`,
    },
  ];
  if (options.unsafeUseStandInShim) {
    checks.push({
      id: "kata.unsafe-stand-in-shim",
      title: "UNSAFE: stand-in shim, NO VM ISOLATION",
      ok: false,
      required: false,
      detail:
        'unsafeUseStandInShim is set and the shim is not Kata\'s: sessions run as plain containers on the host kernel. capabilities() reports isolation "container"; policies asking for minimumIsolation "vm" are rejected. This mode exists for CI only.',
      fix: "Remove unsafeUseStandInShim and install Kata Containers.",
    });
  }
  return checks;
}

async function binaryCheck(profile: RuntimeProfile): Promise<DoctorCheck[]> {
  if (!profile.binary) return [];
  return [
    {
      id: "kata.runtime-binary",
      title: `runtime binary ${profile.binary.path}`,
      ok: profile.binary.found,
      required: true,
      detail: profile.binary.found
        ? profile.binary.version
        : "does not run (missing or not executable)",
      fix: "Point runtimeOptions.BinaryName at an installed OCI runtime (runc, or a runsc wrapper).",
    },
  ];
}

async function kataRuntimeCheck(runtimePath: string | undefined): Promise<DoctorCheck[]> {
  if (!runtimePath) return [];
  const out = await runCommand(runtimePath, ["check"], 60_000);
  return [
    {
      id: "kata.runtime-check",
      title: "kata-runtime check",
      ok: out.code === 0,
      required: true,
      detail: out.output.split("\n").slice(-3).join(" ") || out.error || "",
      fix: "Fix what `kata-runtime check` reports (run it by hand for the full output).",
    },
  ];
}

async function containerdChecks(
  client: ContainerdClient,
  options: ResolvedKataOptions,
): Promise<DoctorCheck[]> {
  let version: string | undefined;
  let failure = "";
  try {
    version = (await client.version(5000)).version;
  } catch (error) {
    failure = grpcDetails(error);
  }
  const checks: DoctorCheck[] = [
    {
      id: "containerd.reachable",
      title: "containerd reachable",
      ok: version !== undefined,
      required: true,
      detail:
        version !== undefined
          ? `${options.address}, namespace ${options.namespace}`
          : `${options.address}: ${failure}`,
      fix: "Start containerd (systemctl start containerd) or set `address` to its socket, and run as a user that may open it.",
    },
  ];
  if (version === undefined) return checks;
  checks.push({
    id: "containerd.version",
    title: "containerd 1.6 or later",
    ok: versionAtLeast(version, 1, 6),
    required: true,
    detail: `containerd ${version}`,
    fix: "Upgrade containerd to 1.6 or later.",
  });
  const image = normalizeImageRef(options.image);
  let present = false;
  let detail = "";
  try {
    await client.getImage(image);
    present = true;
    detail = `${image} in namespace ${options.namespace}`;
  } catch (error) {
    detail = isNotFound(error)
      ? `${image} is not in namespace ${options.namespace}`
      : grpcDetails(error);
  }
  checks.push({
    id: "kata.image",
    title: "default image present",
    ok: present,
    required: false,
    detail,
    fix: `Import it: provider.importImage("image.tar"), or ctr -n ${options.namespace} images import image.tar.`,
  });
  return checks;
}

/**
 * The cadre-agent binary for this host's architecture (undefined: the package has none), which
 * every session runs as its PID 1: by its ELF header a static executable of this host's machine
 * (a Kata guest runs on the host's architecture too).
 */
export function agentCheck(binary: string | undefined): DoctorCheck {
  const fit = binary === undefined ? undefined : agentBinaryFit(binary);
  return {
    id: "kata.agent",
    title: "cadre-agent binary for this host (sessions' PID 1)",
    ok: fit?.fits === true,
    required: true,
    detail: fit ? fit.detail : `none for ${process.arch} in @cadre/agent-runtime-sandbox-agent`,
    fix: "build @cadre/agent-runtime-sandbox-agent (needs Debian's musl-tools, and musl-dev of the other architecture it ships; scripts/services.sh up installs them), or reinstall the package",
  };
}

/** Every readiness check of this provider on this host, each with its fix. */
export async function runDoctor(
  client: ContainerdClient,
  options: ResolvedKataOptions,
  profile: RuntimeProfile,
  agentBinary: string | undefined,
): Promise<DoctorReport> {
  const kata = isKataRuntime(options.runtime);
  // With the test-only stand-in, missing VM prerequisites are warnings: there is no VM to start.
  const vmRequired = kata && !(options.unsafeUseStandInShim && profile.kataShim?.genuine !== true);
  const checks = [
    ...(kata ? await vmChecks(vmRequired) : []),
    ...(await containerdChecks(client, options)),
    ...shimChecks(options, profile),
    ...(await binaryCheck(profile)),
    ...(await kataRuntimeCheck(options.runtimePath)),
    agentCheck(agentBinary),
  ];
  return doctorReport(providerId, checks);
}
