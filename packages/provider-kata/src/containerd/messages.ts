/** The containerd API messages this package uses, as proto-loader decodes them (keepCase). */

export interface Any {
  type_url: string;
  value: Buffer;
}

export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export interface Descriptor {
  media_type: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Container {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string; options?: Any | null } | null;
  spec: Any | null;
  snapshotter: string;
  snapshot_key: string;
  extensions?: Record<string, Any>;
}

export interface Image {
  name: string;
  labels: Record<string, string>;
  target: Descriptor;
}

export interface Lease {
  id: string;
  labels: Record<string, string>;
}

export interface SnapshotInfo {
  name: string;
  parent: string;
  kind: "UNKNOWN" | "VIEW" | "ACTIVE" | "COMMITTED";
  labels: Record<string, string>;
}

export type TaskStatus = "UNKNOWN" | "CREATED" | "RUNNING" | "STOPPED" | "PAUSED" | "PAUSING";

export interface TaskProcess {
  container_id: string;
  id: string;
  pid: number;
  status: TaskStatus;
  exit_status: number;
  /** Set once the process exited (protobuf Timestamp, decoded with longs as numbers). */
  exited_at?: { seconds: number; nanos: number } | null;
}

export interface Stdio {
  stdin: string;
  stdout: string;
  stderr: string;
}
