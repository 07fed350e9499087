import { readFileSync, readlinkSync } from "node:fs";
import { release, version } from "node:os";
import { isolationLevels } from "@cadre/agent-runtime-contract";
import { expect, it } from "vitest";
import { expectStartRefused, unsupportedOf } from "../../expect-error.js";
import { boundaryReportArgv, keyValues } from "../../probes.js";
import type { ConformanceContext } from "../../suite-context.js";
import { conformanceTestNames } from "../../test-names.js";

const names = conformanceTestNames.hostile;
const namespaces = ["pid", "ipc", "uts", "mnt", "net"] as const;

/** Device nodes an OCI runtime gives every container; anything else is a host device. */
const standardDevices = new Set([
  "console",
  "core",
  "fd",
  "full",
  "mqueue",
  "null",
  "ptmx",
  "pts",
  "random",
  "shm",
  "stderr",
  "stdin",
  "stdout",
  "tty",
  "urandom",
  "zero",
]);
/** A user-space kernel or a VM emulates these itself; they are not the host's. */
const ownKernelDevices = new Set(["fuse", "net"]);

const engineSocket = /docker|containerd|podman|crio|kata|shim|runsc|buildkit/i;

function hostNamespace(name: string): string {
  return readlinkSync(`/proc/self/ns/${name}`);
}

/** The host's kernel as the probe reads a session's: its boot id, or `uname -r -v`. */
function hostKernel(byBootId: boolean): string {
  if (byBootId) return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return `${release()} ${version()}`;
}

/**
 * The baseline of each isolation level, read from inside two sessions and from the host:
 * - every level: no capabilities (effective, permitted, bounding or ambient), no host device, masked /proc paths, read-only
 *   /proc/sys and /sys, no engine socket on the filesystem;
 * - "container": NoNewPrivs, a seccomp filter that refuses user namespaces, and pid, ipc, uts,
 *   mount and network namespaces that are neither the host's nor the other session's;
 * - "user-kernel" and "vm": a kernel of the session's own (its boot id, or where it has none its
 *   uname, is not the host's), which is the boundary there; what the app sees of seccomp and
 *   namespaces is that kernel's business.
 */
export function registerBoundaryProbes(ctx: ConformanceContext): void {
  it(
    names.boundary,
    async () => {
      const level = ctx.report.isolation;
      if (level === "none") {
        // No boundary to read: the provider must refuse to pretend one.
        for (const wanted of isolationLevels.filter((l) => l !== "none")) {
          const error = await expectStartRefused(
            ctx,
            ctx.policy({ minimumIsolation: wanted }),
            "CAPABILITY_MISMATCH",
          );
          expect(unsupportedOf(error)).toEqual(["minimumIsolation"]);
        }
        return;
      }
      const [a, b] = await Promise.all([ctx.start(), ctx.start()]);
      const read = async (id: string) =>
        keyValues(
          (await ctx.provider.exec(id, boundaryReportArgv, { timeoutMs: ctx.ms(60_000) })).stdout,
        );
      const [inA, inB] = await Promise.all([read(a), read(b)]);
      const seen = JSON.stringify(inA);
      // None effective, none to raise, none to regain at exec. (A kernel without ambient
      // capabilities, gVisor's among them, shows no CapAmb line.)
      for (const set of ["CapEff", "CapPrm", "CapBnd"]) {
        expect(inA[set], `${set}: ${seen}`).toMatch(/^0+$/);
      }
      if (inA.CapAmb !== undefined) expect(inA.CapAmb, `CapAmb: ${seen}`).toMatch(/^0+$/);
      const devices = (inA.devices ?? "").split(" ").filter(Boolean);
      const allowed = (d: string) =>
        standardDevices.has(d) || (level !== "container" && ownKernelDevices.has(d));
      expect(devices.length, "the device listing worked").toBeGreaterThan(0);
      expect(
        devices.filter((d) => !allowed(d)),
        "host devices in /dev",
      ).toEqual([]);
      expect(inA.exposed, "masked /proc and /sys paths that show content").toBe("");
      expect(inA.procsys, "/proc/sys").toBe("readonly");
      expect(inA.sys, "/sys").toBe("readonly");
      const sockets = (inA.sockets ?? "").split(" ").filter((s) => engineSocket.test(s));
      expect(sockets, "engine sockets reachable from the session").toEqual([]);

      if (level === "container") {
        expect(inA.NoNewPrivs, `NoNewPrivs: ${seen}`).toBe("1");
        expect(inA.Seccomp, `Seccomp mode (2 is filter): ${seen}`).toBe("2");
        expect(inA.userns, "a default seccomp profile refuses new user namespaces").toBe("refused");
        for (const ns of namespaces) {
          const mine = inA[`ns_${ns}`];
          expect(mine, `the ${ns} namespace is readable`).toMatch(/\[\d+\]/);
          expect(mine, `the ${ns} namespace is not the host's`).not.toBe(hostNamespace(ns));
          expect(mine, `the ${ns} namespace is not the other session's`).not.toBe(inB[`ns_${ns}`]);
        }
      } else {
        // gVisor has no boot id; its kernel names itself in uname instead.
        const byBootId = Boolean(inA.boot);
        const kernel = byBootId ? inA.boot : inA.kernel;
        expect(kernel, "the session's kernel tells who it is").toBeTruthy();
        expect(kernel, "the session's kernel is not the host's").not.toBe(hostKernel(byBootId));
      }
    },
    ctx.ms(120_000),
  );
}
