import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { readTarFiles } from "../io/tar-reader.js";
import type { ContainerdClient } from "./client.js";
import { isAlreadyExists } from "./grpc-errors.js";
import { resolveImage, unpackImage } from "./image-layers.js";
import { normalizeImageRef } from "./image-ref.js";
import { isIndex, mediaTypes } from "./media-types.js";
import type { Descriptor } from "./messages.js";

export interface ImportedImage {
  name: string;
  target: Descriptor;
}

interface Blob {
  descriptor: Descriptor;
  data: Buffer;
  /** containerd GC labels: references from this blob to others (and to snapshots). */
  labels: Record<string, string>;
}

function describe(data: Buffer, mediaType: string): Descriptor {
  return {
    media_type: mediaType,
    digest: `sha256:${createHash("sha256").update(data).digest("hex")}`,
    size: data.length,
  };
}

interface LegacyEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** A `docker save` archive (manifest.json): builds a Docker v2 manifest for each image in it. */
function legacyImages(
  files: Map<string, Buffer>,
  snapshotter: string,
): { blobs: Blob[]; images: ImportedImage[] } {
  const entries = JSON.parse(
    (files.get("manifest.json") as Buffer).toString("utf8"),
  ) as LegacyEntry[];
  const blobs: Blob[] = [];
  const images: ImportedImage[] = [];
  for (const entry of entries) {
    const configData = files.get(entry.Config);
    if (!configData) throw new Error(`archive lacks ${entry.Config}`);
    const config = describe(configData, mediaTypes.dockerConfig);
    const layers = entry.Layers.map((path) => {
      const data = files.get(path);
      if (!data) throw new Error(`archive lacks ${path}`);
      return { descriptor: describe(data, mediaTypes.dockerLayer), data };
    });
    const manifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.dockerManifest,
      config: { mediaType: config.media_type, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({
        mediaType: l.descriptor.media_type,
        digest: l.descriptor.digest,
        size: l.descriptor.size,
      })),
    };
    const manifestData = Buffer.from(JSON.stringify(manifest));
    const manifestDescriptor = describe(manifestData, mediaTypes.dockerManifest);
    const diffIds =
      (JSON.parse(configData.toString("utf8")) as { rootfs?: { diff_ids?: string[] } }).rootfs
        ?.diff_ids ?? [];
    blobs.push(...layers.map((l) => ({ ...l, labels: {} })));
    blobs.push({
      descriptor: config,
      data: configData,
      labels: snapshotGcLabel(snapshotter, diffIds),
    });
    const manifestLabels: Record<string, string> = {
      "containerd.io/gc.ref.content.config": config.digest,
    };
    layers.forEach((l, i) => {
      manifestLabels[`containerd.io/gc.ref.content.l.${i}`] = l.descriptor.digest;
    });
    blobs.push({ descriptor: manifestDescriptor, data: manifestData, labels: manifestLabels });
    for (const tag of entry.RepoTags ?? [])
      images.push({ name: normalizeImageRef(tag), target: manifestDescriptor });
    if (!entry.RepoTags?.length) images.push({ name: "", target: manifestDescriptor });
  }
  return { blobs, images };
}

function snapshotGcLabel(snapshotter: string, diffIds: string[]): Record<string, string> {
  // Keeps the unpacked top snapshot alive as long as the config blob is (what containerd does).
  if (diffIds.length === 0) return {};
  let chain = diffIds[0] as string;
  for (const diffId of diffIds.slice(1)) {
    chain = `sha256:${createHash("sha256").update(`${chain} ${diffId}`).digest("hex")}`;
  }
  return { [`containerd.io/gc.ref.snapshot.${snapshotter}`]: chain };
}

interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** An OCI image layout archive (index.json + blobs/): every blob goes in as it is. */
function ociImages(files: Map<string, Buffer>): { blobs: Blob[]; images: ImportedImage[] } {
  const blobOf = (digest: string) => {
    const data = files.get(`blobs/${digest.replace(":", "/")}`);
    if (!data) throw new Error(`archive lacks blob ${digest}`);
    return data;
  };
  const index = JSON.parse((files.get("index.json") as Buffer).toString("utf8")) as {
    manifests: OciDescriptor[];
  };
  const blobs: Blob[] = [];
  const seen = new Set<string>();
  const add = (d: OciDescriptor) => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    const data = blobOf(d.digest);
    const labels: Record<string, string> = {};
    if (
      d.mediaType.endsWith("json") &&
      (d.mediaType.includes("manifest") || isIndex(d.mediaType))
    ) {
      const doc = JSON.parse(data.toString("utf8")) as {
        config?: OciDescriptor;
        layers?: OciDescriptor[];
        manifests?: OciDescriptor[];
      };
      const children = [
        ...(doc.config ? [doc.config] : []),
        ...(doc.layers ?? []),
        ...(doc.manifests ?? []),
      ];
      children.forEach((c, i) => {
        labels[`containerd.io/gc.ref.content.${i}`] = c.digest;
        add(c);
      });
    }
    blobs.push({
      descriptor: { media_type: d.mediaType, digest: d.digest, size: d.size },
      data,
      labels,
    });
  };
  const images: ImportedImage[] = [];
  for (const manifest of index.manifests) {
    add(manifest);
    const name =
      manifest.annotations?.["io.containerd.image.name"] ??
      manifest.annotations?.["org.opencontainers.image.ref.name"] ??
      "";
    images.push({
      name: name.includes("/") || name.includes(":") ? normalizeImageRef(name) : "",
      target: { media_type: manifest.mediaType, digest: manifest.digest, size: manifest.size },
    });
  }
  return { blobs, images };
}

/**
 * Imports a `docker save` or OCI archive: writes its blobs through the Content service, creates
 * the image records and unpacks the layers into the snapshotter, all under a temporary lease so
 * GC cannot take anything half-done. `name` renames the archive's (first) image.
 */
export async function importArchive(
  client: ContainerdClient,
  snapshotter: string,
  tarball: string,
  options: { name?: string } = {},
): Promise<ImportedImage[]> {
  const files = readTarFiles(await readFile(tarball));
  const parsed = files.has("index.json")
    ? ociImages(files)
    : files.has("manifest.json")
      ? legacyImages(files, snapshotter)
      : undefined;
  if (!parsed)
    throw new Error(`${tarball} is neither a docker save archive nor an OCI image layout`);
  let images = parsed.images;
  if (options.name)
    images = [
      { name: normalizeImageRef(options.name), target: (images[0] as ImportedImage).target },
    ];
  images = images.filter((i) => i.name);
  if (images.length === 0) throw new Error(`${tarball} names no image: pass a name`);

  const lease = `cadre-import-${randomBytes(6).toString("hex")}`;
  await client.createLease(lease, {
    "containerd.io/gc.expire": new Date(Date.now() + 3600_000).toISOString(),
  });
  try {
    for (const blob of parsed.blobs) {
      await client.writeContent(blob.descriptor, blob.data, { lease, labels: blob.labels });
    }
    for (const image of images) {
      try {
        await client.createImage({ name: image.name, target: image.target, labels: {} });
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
        await client.deleteImage(image.name);
        await client.createImage({ name: image.name, target: image.target, labels: {} });
      }
      await unpackImage(client, snapshotter, await resolveImage(client, image.name), lease);
    }
  } finally {
    await client.deleteLease(lease).catch(() => {});
  }
  return images;
}
