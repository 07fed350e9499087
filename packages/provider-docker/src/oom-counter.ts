import type { HostFacts } from "./host-facts.js";

/**
 * Where the kernel's OOM kill counter of a container's memory cgroup is. Docker records OOM kills
 * only for a container's main process, so DockerClient reads this counter to tell whether an
 * exec was killed by the memory limit.
 */

type CgroupLayout = Pick<HostFacts, "cgroupVersion" | "cgroupDriver"> &
  Partial<Pick<HostFacts, "engine">>;

/**
 * The counter's file on the daemon's host: cgroup v1 memory.oom_control or v2 memory.events,
 * under the daemon's cgroup driver and the container's cgroup parent (cgroupfs: <parent or
 * /docker>/<id>; systemd: <slice>/docker-<id>.scope; Podman: libpod_parent/libpod-<id> and
 * machine.slice/libpod-<id>.scope). The path holds the container's full id, so a file found there
 * is that container's.
 */
export function oomCounterPath(
  facts: CgroupLayout,
  containerId: string,
  cgroupParent: string | undefined,
): string {
  const v2 = facts.cgroupVersion === "2";
  const root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
  const file = v2 ? "memory.events" : "memory.oom_control";
  const podman = facts.engine === "podman";
  const group =
    facts.cgroupDriver === "systemd"
      ? `${systemdSlicePath(cgroupParent || (podman ? "machine.slice" : "system.slice"))}/${podman ? "libpod" : "docker"}-${containerId}.scope`
      : podman
        ? `${cgroupParent || "/libpod_parent"}/libpod-${containerId}`
        : `${cgroupParent || "/docker"}/${containerId}`;
  return `${root}/${group}/${file}`.replace(/\/{2,}/g, "/");
}

/** systemd nests slices by their dashes: "a-b.slice" lives in "a.slice/a-b.slice". */
function systemdSlicePath(slice: string): string {
  const name = slice.replace(/\.slice$/, "");
  const parts = name.split("-");
  return parts.map((_, i) => `${parts.slice(0, i + 1).join("-")}.slice`).join("/");
}

const oomKillLine = /^oom_kill (\d+)$/m;

/** The count in the file's text, or undefined when it has none (a kernel before 4.13). */
export function oomKillsIn(text: string): number | undefined {
  const match = oomKillLine.exec(text);
  return match ? Number(match[1]) : undefined;
}
