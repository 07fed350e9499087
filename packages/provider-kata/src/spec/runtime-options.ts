import type { Any } from "../containerd/messages.js";

/**
 * Options for the runtime shim, in the names containerd's configuration uses. runc-family shims
 * (io.containerd.runc.v2, and Kata's stand-in in tests) read containerd.runc.v1.Options; Kata's
 * shim reads runtimeoptions.v1.Options (ConfigPath).
 */
export interface RuntimeOptions {
  /** runc shim: the OCI runtime binary, e.g. a runsc wrapper for gVisor. */
  BinaryName?: string;
  /** runc shim: the runtime's state directory. */
  Root?: string;
  /** runc shim: use systemd for cgroups. */
  SystemdCgroup?: boolean;
  /** Kata shim: path of its configuration.toml. */
  ConfigPath?: string;
}

// A minimal protobuf writer: these messages hold only strings and a bool.
function key(field: number, wireType: number): number[] {
  return varint((field << 3) | wireType);
}

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function stringField(field: number, value: string | undefined): number[] {
  if (!value) return [];
  const bytes = Buffer.from(value, "utf8");
  return [...key(field, 2), ...varint(bytes.length), ...bytes];
}

function boolField(field: number, value: boolean | undefined): number[] {
  return value ? [...key(field, 0), 1] : [];
}

/** The shim options as containerd passes them, or undefined when there are none. */
export function encodeRuntimeOptions(options: RuntimeOptions | undefined): Any | undefined {
  if (!options) return undefined;
  if (options.ConfigPath) {
    return {
      type_url: "runtimeoptions.v1.Options",
      value: Buffer.from(stringField(2, options.ConfigPath)),
    };
  }
  const bytes = [
    ...stringField(6, options.BinaryName),
    ...stringField(7, options.Root),
    ...boolField(9, options.SystemdCgroup),
  ];
  if (bytes.length === 0) return undefined;
  return { type_url: "containerd.runc.v1.Options", value: Buffer.from(bytes) };
}
