import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DoctorCheck } from "@cadre/agent-runtime-contract";

/**
 * Podman's default seccomp profile lets a process without capabilities create user namespaces
 * (`unshare`, `clone` with CLONE_NEWUSER, `clone3`), which Docker's refuses, and the conformance
 * suite's boundary probe expects refused: a new user namespace hands a tenant every capability
 * over it, and with them kernel code no container needs. Podman's Docker API takes a profile only
 * as a file on its host (`SecurityOpt: ["seccomp=<path>"]`), so for a Podman on this machine the
 * provider writes its default profile (read from Podman's own file) with those three narrowed: no
 * `unshare`, `clone` only without namespace flags, no `clone3` (ENOSYS, so the C library falls back
 * to `clone`). The file goes to a directory of this user's that no one else can write, readable by
 * all (a rootless Podman's user reads it).
 */

/** Where Podman's default profile is: the administrator's, else the package's. */
const podmanProfiles = ["/etc/containers/seccomp.json", "/usr/share/containers/seccomp.json"];
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
const namespaceFlags = 0x7e020000;
const dropped = new Set(["unshare", "clone", "clone3"]);

interface SeccompRule {
  names?: string[];
  action?: string;
  args?: unknown[] | null;
  includes?: Record<string, unknown>;
  [key: string]: unknown;
}

export const seccompCheckId = "docker.seccomp";

/** Podman's default profile without new namespaces for processes without capabilities. */
export function narrowedProfile(profile: { syscalls?: SeccompRule[] }): object {
  const syscalls: SeccompRule[] = [];
  for (const rule of profile.syscalls ?? []) {
    // Rules that apply only with a capability (CAP_SYS_ADMIN) stay: sessions have none.
    const conditional = rule.includes && Object.keys(rule.includes).length > 0;
    if (rule.action !== "SCMP_ACT_ALLOW" || conditional || !rule.names) {
      syscalls.push(rule);
      continue;
    }
    const names = rule.names.filter((n) => !dropped.has(n));
    if (names.length > 0) syscalls.push({ ...rule, names });
  }
  syscalls.push({
    names: ["clone"],
    action: "SCMP_ACT_ALLOW",
    args: [{ index: 0, value: namespaceFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    comment: "cadre: clone without namespace flags only",
  });
  return { ...profile, syscalls };
}

let written: { path: string } | { refused: DoctorCheck } | undefined;

/** The narrowed profile's file for a Podman on this machine, written once per process. */
export function podmanSeccompProfile(): { path: string } | { refused: DoctorCheck } {
  written ??= writeProfile();
  return written;
}

function writeProfile(): { path: string } | { refused: DoctorCheck } {
  const source = podmanProfiles.find((p) => {
    try {
      return lstatSync(p).isFile();
    } catch {
      return false;
    }
  });
  if (!source) {
    return refused(
      `none of ${podmanProfiles.join(", ")} exists on this machine, so the provider cannot narrow Podman's default seccomp profile`,
    );
  }
  let text: string;
  try {
    text = `${JSON.stringify(narrowedProfile(JSON.parse(readFileSync(source, "utf8"))), null, 1)}\n`;
  } catch (error) {
    return refused(`cannot read ${source} as a seccomp profile: ${(error as Error).message}`);
  }
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `cadre-agent-runtime-${uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const info = lstatSync(dir);
    if (!info.isDirectory() || info.uid !== uid || (info.mode & 0o022) !== 0) {
      return refused(`${dir} is not a directory of this user's that only it can write`);
    }
    const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
    const path = join(dir, `podman-seccomp-${hash}.json`);
    const partial = `${path}.${process.pid}.tmp`;
    writeFileSync(partial, text, { mode: 0o644 });
    renameSync(partial, path);
    return { path };
  } catch (error) {
    return refused(`cannot write the profile under ${dir}: ${(error as Error).message}`);
  }
}

function refused(detail: string): { refused: DoctorCheck } {
  return {
    refused: {
      id: seccompCheckId,
      title: "seccomp profile without new user namespaces (Podman)",
      ok: false,
      required: true,
      detail,
      fix: "install Podman's containers-common profile (golang-github-containers-common) on this machine, and run the provider where it can write to its temporary directory",
    },
  };
}

/** The passing check, for doctor. */
export function seccompCheck(path: string): DoctorCheck {
  return {
    id: seccompCheckId,
    title: "seccomp profile without new user namespaces (Podman)",
    ok: true,
    required: true,
    detail: `Podman's default profile without unshare, namespace flags of clone, or clone3: ${path}`,
  };
}
