import { isSessionOf } from "@cadre/agent-runtime-provider-utils";
import { providerId } from "../capabilities.js";
import type { ContainerdClient } from "./client.js";
import { isNotFound } from "./grpc-errors.js";
import type { Container } from "./messages.js";

/** Whether an object's labels make it part of session `id` of the Kata provider. */
export function isOwnSession(labels: Record<string, string> | undefined, id: string): boolean {
  return isSessionOf(labels, id, providerId);
}

/** What containerd holds under a session id. */
export type SessionContainer =
  | { kind: "own"; container: Container }
  | { kind: "foreign" }
  | { kind: "absent" };

/** The one lookup behind every method that takes a session id. */
export async function findSessionContainer(
  client: ContainerdClient,
  id: string,
): Promise<SessionContainer> {
  try {
    const container = await client.getContainer(id);
    return isOwnSession(container.labels, id) ? { kind: "own", container } : { kind: "foreign" };
  } catch (error) {
    if (isNotFound(error)) return { kind: "absent" };
    throw error;
  }
}

/** Whether the snapshot `key` exists and belongs to session `key`. */
export async function ownsSnapshot(
  client: ContainerdClient,
  snapshotter: string,
  key: string,
): Promise<boolean> {
  try {
    return isOwnSession((await client.statSnapshot(snapshotter, key)).labels, key);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Whether the lease `id` exists and belongs to session `id`. */
export async function ownsLease(client: ContainerdClient, id: string): Promise<boolean> {
  const leases = await client.listLeases([`id=="${id}"`]);
  return leases.some((lease) => lease.id === id && isOwnSession(lease.labels, id));
}
