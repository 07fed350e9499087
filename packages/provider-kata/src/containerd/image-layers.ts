import { randomBytes } from "node:crypto";
import { chainIds } from "./chain-id.js";
import type { ContainerdClient } from "./client.js";
import { isNotFound } from "./grpc-errors.js";
import { isIndex } from "./media-types.js";
import type { Descriptor } from "./messages.js";

/** What a session needs from its image: the top snapshot to prepare from, and the defaults. */
export interface ResolvedImage {
  name: string;
  /** Chain id of the top layer: the parent of the session's snapshot. */
  chainId: string;
  layers: Descriptor[];
  diffIds: string[];
  env: string[];
  workingDir: string;
  user: string;
}

interface ImageConfig {
  config?: { Env?: string[]; WorkingDir?: string; User?: string };
  rootfs?: { diff_ids?: string[] };
}

interface Manifest {
  mediaType?: string;
  config: Descriptor & { mediaType?: string };
  layers: (Descriptor & { mediaType?: string })[];
  manifests?: (Descriptor & {
    mediaType?: string;
    platform?: { os?: string; architecture?: string };
  })[];
}

const goArch: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ppc64: "ppc64le",
  s390x: "s390x",
};

async function readJson<T>(client: ContainerdClient, digest: string): Promise<T> {
  return JSON.parse((await client.readContent(digest)).toString("utf8")) as T;
}

/** Looks the image up by name, then reads what its target holds (see readImage). */
export async function resolveImage(client: ContainerdClient, name: string): Promise<ResolvedImage> {
  return readImage(client, name, (await client.getImage(name)).target);
}

/**
 * Reads an image's manifest (through an index if needed) and config from the Content service.
 * Everything read is addressed by digest, so the result for one target never changes.
 */
export async function readImage(
  client: ContainerdClient,
  name: string,
  target: Descriptor,
): Promise<ResolvedImage> {
  let manifest = await readJson<Manifest>(client, target.digest);
  if (isIndex(target.media_type) || manifest.manifests) {
    const arch = goArch[process.arch] ?? process.arch;
    const chosen =
      manifest.manifests?.find(
        (m) => m.platform?.os === "linux" && m.platform.architecture === arch,
      ) ?? manifest.manifests?.[0];
    if (!chosen) throw new Error(`image ${name} has an empty index`);
    manifest = await readJson<Manifest>(client, chosen.digest);
  }
  const config = await readJson<ImageConfig>(client, manifest.config.digest);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const chain = chainIds(diffIds);
  const top = chain[chain.length - 1];
  if (!top) throw new Error(`image ${name} has no layers`);
  return {
    name,
    chainId: top,
    layers: manifest.layers.map((l) => ({
      media_type: l.mediaType ?? l.media_type,
      digest: l.digest,
      size: l.size,
    })),
    diffIds,
    env: config.config?.Env ?? [],
    workingDir: config.config?.WorkingDir ?? "",
    user: config.config?.User ?? "",
  };
}

async function snapshotExists(
  client: ContainerdClient,
  snapshotter: string,
  key: string,
): Promise<boolean> {
  try {
    await client.statSnapshot(snapshotter, key);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Makes sure every layer of the image is a committed snapshot, applying missing layers with the
 * Diff service. Works under `lease` so that GC cannot remove half-built snapshots.
 */
export async function unpackImage(
  client: ContainerdClient,
  snapshotter: string,
  image: ResolvedImage,
  lease: string,
): Promise<void> {
  const chain = chainIds(image.diffIds);
  for (let i = 0; i < chain.length; i++) {
    const chainId = chain[i] as string;
    if (await snapshotExists(client, snapshotter, chainId)) continue;
    const layer = image.layers[i];
    if (!layer) throw new Error(`image ${image.name}: layer ${i} is missing from the manifest`);
    const key = `cadre-unpack-${randomBytes(6).toString("hex")}`;
    const parent = i === 0 ? "" : (chain[i - 1] as string);
    const mounts = await client.prepareSnapshot(snapshotter, key, parent, {}, { lease });
    try {
      await client.applyDiff(layer, mounts, { lease });
      await client.commitSnapshot(snapshotter, chainId, key, {}, { lease });
    } catch (error) {
      await client.removeSnapshot(snapshotter, key).catch(() => {});
      throw error;
    }
  }
}
