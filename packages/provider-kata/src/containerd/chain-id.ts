import { createHash } from "node:crypto";

/**
 * The chain ids of a layer stack, one per layer: the snapshot names containerd commits when it
 * unpacks an image. chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n)).
 */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const previous = out[out.length - 1];
    out.push(
      previous === undefined
        ? diffId
        : `sha256:${createHash("sha256").update(`${previous} ${diffId}`).digest("hex")}`,
    );
  }
  return out;
}
