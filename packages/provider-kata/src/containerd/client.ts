import { GrpcConnection, type RequestContext } from "./grpc-connection.js";
import type {
  Any,
  Container,
  Descriptor,
  Image,
  Lease,
  Mount,
  SnapshotInfo,
  Stdio,
  TaskProcess,
} from "./messages.js";

const svc = {
  version: "containerd.services.version.v1.Version",
  containers: "containerd.services.containers.v1.Containers",
  images: "containerd.services.images.v1.Images",
  content: "containerd.services.content.v1.Content",
  snapshots: "containerd.services.snapshots.v1.Snapshots",
  diff: "containerd.services.diff.v1.Diff",
  leases: "containerd.services.leases.v1.Leases",
  tasks: "containerd.services.tasks.v1.Tasks",
} as const;

export interface ContainerdClientOptions {
  /** Unix socket path (or a grpc target such as unix:///path). */
  address: string;
  namespace: string;
}

/** The subset of containerd's gRPC API the Kata provider uses, typed. */
export class ContainerdClient {
  private readonly conn: GrpcConnection;

  constructor(options: ContainerdClientOptions) {
    this.conn = new GrpcConnection(options.address, options.namespace);
  }

  get namespace(): string {
    return this.conn.namespace;
  }

  get address(): string {
    return this.conn.address;
  }

  close(): void {
    this.conn.close();
  }

  version(timeoutMs?: number): Promise<{ version: string; revision: string }> {
    return this.conn.unary(svc.version, "Version", {}, { timeoutMs });
  }

  // Containers

  async getContainer(id: string): Promise<Container> {
    const res = await this.conn.unary<{ container: Container }>(svc.containers, "Get", { id });
    return res.container;
  }

  /**
   * Filters use containerd's syntax, e.g. `labels."key"==value`; filters are ORed. Streamed one
   * container per message: each carries its spec (a session's env up to the contract's limit),
   * so a unary List outgrows containerd's 16 MiB reply with a few dozen sessions.
   */
  async listContainers(filters: string[] = []): Promise<Container[]> {
    const messages = await this.conn.serverStream<{ container: Container }>(
      svc.containers,
      "ListStream",
      { filters },
    );
    return messages.map((m) => m.container);
  }

  async createContainer(
    container: Partial<Container>,
    context?: RequestContext,
  ): Promise<Container> {
    const res = await this.conn.unary<{ container: Container }>(
      svc.containers,
      "Create",
      { container },
      context,
    );
    return res.container;
  }

  async deleteContainer(id: string, context?: RequestContext): Promise<void> {
    await this.conn.unary(svc.containers, "Delete", { id }, context);
  }

  // Images and content

  async getImage(name: string): Promise<Image> {
    const res = await this.conn.unary<{ image: Image }>(svc.images, "Get", { name });
    return res.image;
  }

  async createImage(
    image: Pick<Image, "name" | "target" | "labels">,
    context?: RequestContext,
  ): Promise<Image> {
    const res = await this.conn.unary<{ image: Image }>(svc.images, "Create", { image }, context);
    return res.image;
  }

  async deleteImage(name: string): Promise<void> {
    await this.conn.unary(svc.images, "Delete", { name, sync: true });
  }

  async contentInfo(
    digest: string,
  ): Promise<{ digest: string; size: number; labels: Record<string, string> }> {
    const res = await this.conn.unary<{
      info: { digest: string; size: number; labels: Record<string, string> };
    }>(svc.content, "Info", { digest });
    return res.info;
  }

  async readContent(digest: string): Promise<Buffer> {
    const chunks = await this.conn.serverStream<{ offset: number; data: Buffer }>(
      svc.content,
      "Read",
      {
        digest,
        offset: 0,
        size: 0,
      },
    );
    return Buffer.concat(chunks.map((c) => c.data));
  }

  /**
   * Writes one blob through the Content service's Write stream and commits it under `digest`.
   * An already present blob is not an error. The caller passes a lease so GC keeps the blob.
   */
  async writeContent(
    descriptor: Pick<Descriptor, "digest" | "size">,
    data: Buffer,
    context: RequestContext & { labels?: Record<string, string> } = {},
  ): Promise<void> {
    const stream = this.conn.bidiStream<object, { offset: number; digest: string }>(
      svc.content,
      "Write",
      context,
    );
    const ref = `cadre-import-${descriptor.digest}`;
    const finished = new Promise<void>((resolve, reject) => {
      stream.on("error", reject);
      stream.on("end", resolve);
      stream.on("data", () => {});
    });
    const chunk = 1024 * 1024;
    for (let offset = 0; offset < data.length || offset === 0; offset += chunk) {
      const piece = data.subarray(offset, Math.min(offset + chunk, data.length));
      const last = offset + chunk >= data.length;
      stream.write({
        action: last ? "COMMIT" : "WRITE",
        ref,
        total: descriptor.size,
        expected: descriptor.digest,
        offset,
        data: piece,
        labels: last ? (context.labels ?? {}) : {},
      });
      if (last) break;
    }
    stream.end();
    try {
      await finished;
    } catch (error) {
      if (String((error as Error).message).includes("already exists")) return;
      throw error;
    }
  }

  // Snapshots

  async prepareSnapshot(
    snapshotter: string,
    key: string,
    parent: string,
    labels: Record<string, string>,
    context?: RequestContext,
  ): Promise<Mount[]> {
    const res = await this.conn.unary<{ mounts: Mount[] }>(
      svc.snapshots,
      "Prepare",
      { snapshotter, key, parent, labels },
      context,
    );
    return res.mounts;
  }

  async snapshotMounts(snapshotter: string, key: string): Promise<Mount[]> {
    const res = await this.conn.unary<{ mounts: Mount[] }>(svc.snapshots, "Mounts", {
      snapshotter,
      key,
    });
    return res.mounts;
  }

  /** Bytes the snapshot `key` holds above its parent (a session's writable layer). */
  async snapshotUsage(snapshotter: string, key: string): Promise<number> {
    const res = await this.conn.unary<{ size: string | number }>(svc.snapshots, "Usage", {
      snapshotter,
      key,
    });
    return Number(res.size);
  }

  async commitSnapshot(
    snapshotter: string,
    name: string,
    key: string,
    labels: Record<string, string>,
    context?: RequestContext,
  ): Promise<void> {
    await this.conn.unary(svc.snapshots, "Commit", { snapshotter, name, key, labels }, context);
  }

  async statSnapshot(snapshotter: string, key: string): Promise<SnapshotInfo> {
    const res = await this.conn.unary<{ info: SnapshotInfo }>(svc.snapshots, "Stat", {
      snapshotter,
      key,
    });
    return res.info;
  }

  async removeSnapshot(snapshotter: string, key: string): Promise<void> {
    await this.conn.unary(svc.snapshots, "Remove", { snapshotter, key });
  }

  async listSnapshots(snapshotter: string, filters: string[] = []): Promise<SnapshotInfo[]> {
    const pages = await this.conn.serverStream<{ info: SnapshotInfo[] }>(svc.snapshots, "List", {
      snapshotter,
      filters,
    });
    return pages.flatMap((p) => p.info);
  }

  async applyDiff(
    diff: Descriptor,
    mounts: Mount[],
    context?: RequestContext,
  ): Promise<Descriptor> {
    const res = await this.conn.unary<{ applied: Descriptor }>(
      svc.diff,
      "Apply",
      { diff, mounts },
      context,
    );
    return res.applied;
  }

  // Leases

  async createLease(id: string, labels: Record<string, string>): Promise<void> {
    await this.conn.unary(svc.leases, "Create", { id, labels });
  }

  /** With `sync`, containerd runs its garbage collector and answers once it has. */
  async deleteLease(id: string, options: { sync?: boolean } = {}): Promise<void> {
    await this.conn.unary(svc.leases, "Delete", { id, sync: options.sync ?? false });
  }

  async listLeases(filters: string[] = []): Promise<Lease[]> {
    const res = await this.conn.unary<{ leases: Lease[] }>(svc.leases, "List", { filters });
    return res.leases;
  }

  // Tasks

  async createTask(
    containerId: string,
    rootfs: Mount[],
    stdio: Stdio,
    options?: Any,
  ): Promise<number> {
    const res = await this.conn.unary<{ pid: number }>(svc.tasks, "Create", {
      container_id: containerId,
      rootfs,
      ...stdio,
      terminal: false,
      ...(options ? { options } : {}),
    });
    return res.pid;
  }

  async startProcess(containerId: string, execId = ""): Promise<number> {
    const res = await this.conn.unary<{ pid: number }>(svc.tasks, "Start", {
      container_id: containerId,
      exec_id: execId,
    });
    return res.pid;
  }

  async getProcess(containerId: string, execId = ""): Promise<TaskProcess> {
    const res = await this.conn.unary<{ process: TaskProcess }>(svc.tasks, "Get", {
      container_id: containerId,
      exec_id: execId,
    });
    return res.process;
  }

  async kill(
    containerId: string,
    signal: number,
    options: { execId?: string; all?: boolean } = {},
  ): Promise<void> {
    await this.conn.unary(svc.tasks, "Kill", {
      container_id: containerId,
      exec_id: options.execId ?? "",
      signal,
      all: options.all ?? false,
    });
  }

  /**
   * Resolves with the exit status when the process (or the task, without execId) exits; with
   * `timeoutMs`, rejects with DEADLINE_EXCEEDED when it has not exited by then.
   */
  async wait(containerId: string, execId = "", timeoutMs?: number): Promise<number> {
    const res = await this.conn.unary<{ exit_status: number }>(
      svc.tasks,
      "Wait",
      { container_id: containerId, exec_id: execId },
      timeoutMs === undefined ? {} : { timeoutMs },
    );
    return res.exit_status;
  }

  /** Every task of the namespace, whatever its container; each is named by `id`. */
  async listTasks(): Promise<TaskProcess[]> {
    const res = await this.conn.unary<{ tasks: TaskProcess[] }>(svc.tasks, "List", { filter: "" });
    return res.tasks ?? [];
  }

  async deleteTask(containerId: string): Promise<void> {
    await this.conn.unary(svc.tasks, "Delete", { container_id: containerId });
  }

  async exec(containerId: string, execId: string, stdio: Stdio, spec: Any): Promise<void> {
    await this.conn.unary(svc.tasks, "Exec", {
      container_id: containerId,
      exec_id: execId,
      ...stdio,
      terminal: false,
      spec,
    });
  }

  async closeStdin(containerId: string, execId: string): Promise<void> {
    await this.conn.unary(svc.tasks, "CloseIO", {
      container_id: containerId,
      exec_id: execId,
      stdin: true,
    });
  }

  async deleteProcess(containerId: string, execId: string): Promise<void> {
    await this.conn.unary(svc.tasks, "DeleteProcess", {
      container_id: containerId,
      exec_id: execId,
    });
  }
}
