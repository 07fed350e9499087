import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { KataProvider } from "../src/index.js";
import { describeWithContainerd } from "./support/available.js";
import {
  findBackendLeftovers,
  reapEndRecords,
  testImageArchive,
  variantOptions,
} from "./support/containerd-env.js";

/**
 * A docker-save archive: the test image plus one more layer holding /cadre-marker with `token`,
 * so its diff id (and chain id) is new to containerd.
 */
function archiveWithExtraLayer(dir: string, token: string): string {
  const work = mkdtempSync(join(dir, "layered-"));
  execFileSync("tar", ["-xf", testImageArchive, "-C", work]);
  const layerRoot = join(work, "layer-root");
  mkdirSync(layerRoot);
  writeFileSync(join(layerRoot, "cadre-marker"), `${token}\n`);
  mkdirSync(join(work, "extra"));
  execFileSync("tar", ["-cf", join(work, "extra", "layer.tar"), "-C", layerRoot, "cadre-marker"]);
  rmSync(layerRoot, { recursive: true });
  const layerDigest = `sha256:${createHash("sha256")
    .update(readFileSync(join(work, "extra", "layer.tar")))
    .digest("hex")}`;
  const manifest = JSON.parse(readFileSync(join(work, "manifest.json"), "utf8")) as {
    Config: string;
    RepoTags: string[];
    Layers: string[];
  }[];
  const entry = manifest[0] as (typeof manifest)[number];
  const config = JSON.parse(readFileSync(join(work, entry.Config), "utf8")) as {
    rootfs: { diff_ids: string[] };
  };
  config.rootfs.diff_ids.push(layerDigest);
  writeFileSync(join(work, "config-layered.json"), JSON.stringify(config));
  writeFileSync(
    join(work, "manifest.json"),
    JSON.stringify([
      { Config: "config-layered.json", RepoTags: [], Layers: [...entry.Layers, "extra/layer.tar"] },
    ]),
  );
  const out = join(dir, "layered.tar");
  execFileSync("tar", ["-cf", out, "-C", work, "."]);
  return out;
}

const runLabel = { "cadre.test/import": String(process.pid) };

describeWithContainerd("importImage", () => {
  const provider = new KataProvider(variantOptions("kata-stand-in"));
  const adapter = provider.containerd!;
  const name = `docker.io/cadre-test/imported-${process.pid}:1`;
  const dir = mkdtempSync(join(tmpdir(), "cadre-kata-import-"));

  afterAll(async () => {
    for (const s of await provider.listSessions({ labels: runLabel }))
      await provider.destroySession(s.id);
    await adapter.client.deleteImage(name).catch(() => {});
    expect(await findBackendLeftovers(runLabel)).toEqual([]);
    expect(await reapEndRecords(runLabel), "end records").toEqual([]);
    rmSync(dir, { recursive: true, force: true });
    await provider.close();
  });

  it("loads a `docker save` archive under a new name and starts a session from it", async () => {
    // A fresh archive from Docker when it is here, else the one services.sh saved.
    let archive = testImageArchive;
    try {
      archive = join(dir, "busybox.tar");
      execFileSync("docker", ["save", "-o", archive, "cadre-test/busybox:1"], { stdio: "ignore" });
    } catch {
      archive = testImageArchive;
    }
    expect(await provider.importImage(archive, { name })).toEqual([name]);
    const image = await adapter.client.getImage(name);
    expect(image.target.media_type).toBe("application/vnd.docker.distribution.manifest.v2+json");

    const id = await provider.startSession({ image: name, labels: runLabel });
    const result = await provider.exec(id, [
      "sh",
      "-c",
      "echo imported; cat /etc/passwd | head -1",
    ]);
    expect(result.stdout).toBe("imported\nroot:x:0:0:root:/root:/bin/sh\n");
    expect((await adapter.client.getContainer(id)).image).toBe(name);
    await provider.destroySession(id);
  });

  it("unpacks a layer containerd has never seen (Diff.Apply) and the session sees its file", async () => {
    const token = `layer-${process.pid}-${Date.now()}`;
    const archive = archiveWithExtraLayer(dir, token);
    const layered = `docker.io/cadre-test/layered-${process.pid}:1`;
    expect(await provider.importImage(archive, { name: layered })).toEqual([layered]);
    try {
      const id = await provider.startSession({ image: layered, labels: runLabel });
      const result = await provider.exec(id, ["cat", "/cadre-marker"]);
      expect(result.stdout).toBe(`${token}\n`);
      expect((await provider.exec(id, ["echo", "base layer too"])).stdout).toBe("base layer too\n");
      await provider.destroySession(id);
    } finally {
      await adapter.client.deleteImage(layered).catch(() => {});
    }
  });

  it("starts from what a name points at now, after the name is imported again", async () => {
    const name = `docker.io/cadre-test/moved-${process.pid}:1`;
    const markerOf = async () => {
      const id = await provider.startSession({ image: name, labels: runLabel });
      try {
        return (await provider.exec(id, ["cat", "/cadre-marker"])).stdout;
      } finally {
        await provider.destroySession(id);
      }
    };
    try {
      for (const token of [`first-${Date.now()}`, `second-${Date.now()}`]) {
        await provider.importImage(archiveWithExtraLayer(dir, token), { name });
        expect(await markerOf()).toBe(`${token}\n`);
      }
    } finally {
      await adapter.client.deleteImage(name).catch(() => {});
    }
  });

  it("unpacks the image again when its layers were removed since the last start", async () => {
    const token = `removed-${process.pid}-${Date.now()}`;
    const name = `docker.io/cadre-test/removed-${process.pid}:1`;
    await provider.importImage(archiveWithExtraLayer(dir, token), { name });
    const snapshotter = adapter.options.snapshotter;
    try {
      const first = await provider.startSession({ image: name, labels: runLabel });
      const top = (await adapter.client.statSnapshot(snapshotter, first)).parent;
      await provider.destroySession(first);
      // The top layer is this test's own: nothing else stands on it.
      await adapter.client.removeSnapshot(snapshotter, top);
      await expect(adapter.client.statSnapshot(snapshotter, top)).rejects.toThrow();

      const second = await provider.startSession({ image: name, labels: runLabel });
      expect((await provider.exec(second, ["cat", "/cadre-marker"])).stdout).toBe(`${token}\n`);
      expect((await adapter.client.statSnapshot(snapshotter, second)).parent).toBe(top);
      await provider.destroySession(second);
    } finally {
      await adapter.client.deleteImage(name).catch(() => {});
    }
  });

  it("refuses a file that is not an image archive with a typed error", async () => {
    const bogus = join(dir, "not-an-image.tar");
    execFileSync("tar", ["-cf", bogus, "-C", dir, "--files-from", "/dev/null"]);
    await expect(provider.importImage(bogus)).rejects.toMatchObject({ code: "BACKEND_ERROR" });
  });

  it("an image that is not there fails the start with a typed error naming importImage", async () => {
    const error = await provider
      .startSession({ image: "docker.io/cadre-test/never-imported:1", labels: runLabel })
      .catch((e: unknown) => e);
    // What the host lacks, for the operator to add, as on Docker.
    expect(error).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    expect((error as Error).message).toContain("importImage");
    expect(await findBackendLeftovers(runLabel)).toEqual([]);
  });
});
