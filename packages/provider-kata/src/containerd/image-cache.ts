import type { ContainerdClient } from "./client.js";
import { isNotFound } from "./grpc-errors.js";
import { type ResolvedImage, readImage, unpackImage } from "./image-layers.js";
import type { Mount } from "./messages.js";

/** Distinct images kept; a host that imports more than this just reads them again. */
const maxEntries = 64;

/**
 * What starting a session needs from its image, kept between starts so a start costs one image
 * lookup instead of five round trips. The name is looked up on every start, since an import may
 * point it at new content; what a digest or chain id names never changes, so manifests and
 * configs are kept by those. An unpacked layer stack is remembered as
 * well, and unpacked again if it has been removed since.
 */
export class ImageCache {
  private readonly images = new Map<string, Promise<ResolvedImage>>();
  private readonly unpacked = new Set<string>();

  constructor(
    private readonly client: ContainerdClient,
    private readonly snapshotter: string,
  ) {}

  /** The image a name points at now. Rejects with containerd's NotFound when it is not there. */
  async resolve(name: string): Promise<ResolvedImage> {
    const { target } = await this.client.getImage(name);
    return remember(this.images, `${name}@${target.digest}`, () =>
      readImage(this.client, name, target),
    );
  }

  /** Prepares the writable snapshot `key` on top of the image, unpacking its layers if needed. */
  async prepareSnapshot(
    image: ResolvedImage,
    key: string,
    labels: Record<string, string>,
    lease: string,
  ): Promise<Mount[]> {
    const prepare = () =>
      this.client.prepareSnapshot(this.snapshotter, key, image.chainId, labels, { lease });
    if (!this.unpacked.has(image.chainId)) {
      await this.unpack(image, lease);
      return prepare();
    }
    try {
      return await prepare();
    } catch (error) {
      if (!isNotFound(error)) throw error;
      // The layers were removed behind our back (by hand, or with the image): unpack again.
      this.unpacked.delete(image.chainId);
      await this.unpack(image, lease);
      return prepare();
    }
  }

  private async unpack(image: ResolvedImage, lease: string): Promise<void> {
    await unpackImage(this.client, this.snapshotter, image, lease);
    this.unpacked.add(image.chainId);
  }
}

/** The cached promise for `key`, or a new one from `load`; a failure is not kept. */
function remember<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>) {
  const cached = cache.get(key);
  if (cached) return cached;
  const loading = load();
  cache.set(key, loading);
  loading.catch(() => {
    if (cache.get(key) === loading) cache.delete(key);
  });
  if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
  return loading;
}
