import { status } from "@grpc/grpc-js";

function codeOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return codeOf(error) === status.NOT_FOUND;
}

export function isAlreadyExists(error: unknown): boolean {
  return codeOf(error) === status.ALREADY_EXISTS;
}

/** containerd is not there at all (socket missing, daemon down). */
export function isUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  return code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED;
}

/** The gRPC error's own text, without the "N CODE: " prefix grpc-js adds. */
export function grpcDetails(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const details = (error as { details?: unknown }).details;
    if (typeof details === "string" && details) return details;
  }
  return error instanceof Error ? error.message : String(error);
}
