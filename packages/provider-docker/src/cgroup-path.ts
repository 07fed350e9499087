import type { HostFacts } from "./host-facts.js";

/**
 * Where a container's cgroup is on the daemon's host. Docker records OOM kills only for a
 * container's main process and nothing of the pids limit, so DockerClient reads the kernel's
 * counters there (provider-utils' readCgroup): the memory and pids limits an exec hit, with what
 * was seen of them, read from outside the sandbox.
 */

type CgroupLayout = Pick<HostFacts, "cgroupDriver"> & Partial<Pick<HostFacts, "engine">>;

/**
 * The container's cgroup below the hierarchy's root, under the daemon's cgroup driver and the
 * container's cgroup parent (cgroupfs: <parent or /docker>/<id>; systemd:
 * <slice>/docker-<id>.scope; Podman: libpod_parent/libpod-<id> and
 * machine.slice/libpod-<id>.scope). The path holds the container's full id, so what is found
 * there is that container's.
 */
export function containerCgroupPath(
  facts: CgroupLayout,
  containerId: string,
  cgroupParent: string | undefined,
): string {
  const podman = facts.engine === "podman";
  const group =
    facts.cgroupDriver === "systemd"
      ? `${systemdSlicePath(cgroupParent || (podman ? "machine.slice" : "system.slice"))}/${podman ? "libpod" : "docker"}-${containerId}.scope`
      : podman
        ? `${cgroupParent || "/libpod_parent"}/libpod-${containerId}`
        : `${cgroupParent || "/docker"}/${containerId}`;
  return `/${group}`.replace(/\/{2,}/g, "/");
}

/** systemd nests slices by their dashes: "a-b.slice" lives in "a.slice/a-b.slice". */
function systemdSlicePath(slice: string): string {
  const name = slice.replace(/\.slice$/, "");
  const parts = name.split("-");
  return parts.map((_, i) => `${parts.slice(0, i + 1).join("-")}.slice`).join("/");
}
