import { readFileSync } from "node:fs";
import { agentMountPath, agentUid } from "@cadre/agent-runtime-sandbox-agent";

/**
 * How cadre-agent reaches a session's container. A daemon on this machine bind-mounts the binary
 * read-only from this host's files (a mount point can be neither replaced nor renamed from inside).
 * A daemon elsewhere has none of this host's files, so the binary goes through the Engine API: the
 * container gets an anonymous volume at `agentVolumePath`, and before it starts the provider
 * extracts a tar archive there (`PUT /containers/{id}/archive`), which makes the volume's root and
 * the binary owned by the agent's uid, mode 0555. Docker accepts an archive into a volume also
 * when the root filesystem is read-only. No command can change either: commands never run as the
 * agent's uid and have no capability, and the volume is a mount point.
 */
export type AgentDelivery = "mount" | "copy";

/** Where a copied agent lives in the container: the root of its volume. */
export const agentVolumePath = "/.cadre";

/** The path of the agent's binary in a container, by how it got there. */
export function agentPathIn(delivery: AgentDelivery): string {
  return delivery === "mount" ? agentMountPath : `${agentVolumePath}/cadre-agent`;
}

/**
 * A tar archive of the agent for `agentVolumePath`: the directory itself ("./") and the binary,
 * both owned by the agent's uid and gid, mode 0555.
 */
export function agentArchive(binaryPath: string): Buffer {
  let archive = archives.get(binaryPath);
  if (!archive) {
    archive = buildArchive(readFileSync(binaryPath));
    archives.set(binaryPath, archive);
  }
  return archive;
}

/** Archives built so far, by binary path: one read of each binary per process. */
const archives = new Map<string, Buffer>();

function buildArchive(binary: Buffer): Buffer {
  const name = agentPathIn("copy").slice(agentVolumePath.length + 1);
  return Buffer.concat([
    tarHeader("./", 0, "5"),
    tarHeader(`./${name}`, binary.length, "0"),
    binary,
    Buffer.alloc((512 - (binary.length % 512)) % 512),
    // Two empty records end the archive.
    Buffer.alloc(1024),
  ]);
}

/** One ustar header: type "0" (file) or "5" (directory), owner the agent's uid, mode 0555. */
function tarHeader(name: string, size: number, type: "0" | "5"): Buffer {
  const header = Buffer.alloc(512);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, "0");
  header.write(name, 0, 100, "utf8");
  header.write(octal(0o555, 8), 100);
  header.write(octal(agentUid, 8), 108);
  header.write(octal(agentUid, 8), 116);
  header.write(octal(size, 12), 124);
  header.write(octal(0, 12), 136);
  // The checksum is computed with its own field as spaces.
  header.fill(" ", 148, 156);
  header.write(type, 156);
  header.write("ustar\u000000", 257, "latin1");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${octal(sum, 7)}\u0000 `, 148, "latin1");
  return header;
}
