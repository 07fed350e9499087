import type { ValidatedPolicy } from "@cadre/agent-runtime-contract";

/**
 * Labels a pool adds to the sessions it creates ahead of demand. Backend labels cannot change
 * after creation (Docker), so they stay on a session after it is handed out: they say where the
 * session came from, not whether it is still idle. The pool knows which ones are idle.
 */
export const poolLabels = {
  /** The id of the pool that created the session. */
  poolId: "cadre.pool/id",
  /** "true" on every session a pool created before anyone asked for it. */
  prewarmed: "cadre.pool/prewarmed",
} as const;

/** The policy a warm session is created with: the caller's, plus the pool's labels. */
export function warmPolicy(policy: ValidatedPolicy, poolId: string): ValidatedPolicy {
  return {
    ...policy,
    labels: {
      ...(policy.labels ?? {}),
      [poolLabels.poolId]: poolId,
      [poolLabels.prewarmed]: "true",
    },
  };
}
