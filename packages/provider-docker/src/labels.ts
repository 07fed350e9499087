import { reservedLabelPrefix } from "@cadre/agent-runtime-contract";

/**
 * Translates between the contract's label keys ("cadre.agent-runtime/...") and the keys written
 * on containers, which use the configured prefix.
 */
export class LabelCodec {
  constructor(readonly prefix: string = reservedLabelPrefix) {}

  /** Container labels for the labels built by buildSessionLabels(). */
  toDocker(labels: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(labels).map(([k, v]) => [this.toDockerKey(k), v]));
  }

  /** The contract's labels back from a container's labels. */
  fromDocker(labels: Record<string, string>): Record<string, string> {
    if (this.prefix === reservedLabelPrefix) return labels;
    return Object.fromEntries(
      Object.entries(labels).map(([k, v]) => [
        k.startsWith(this.prefix) ? reservedLabelPrefix + k.slice(this.prefix.length) : k,
        v,
      ]),
    );
  }

  toDockerKey(key: string): string {
    return key.startsWith(reservedLabelPrefix)
      ? this.prefix + key.slice(reservedLabelPrefix.length)
      : key;
  }
}
