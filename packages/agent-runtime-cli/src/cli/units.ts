import { UsageError } from "./usage-error.js";

const sizeUnits: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** "512m", "1g", "64MiB", "1048576" (bytes). Units are binary, as in `docker run --memory`. */
export function parseSize(text: string, flag: string, command: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$/i.exec(text.trim());
  const unit = sizeUnits[match?.[2]?.toLowerCase() ?? ""];
  if (!match || unit === undefined) {
    throw new UsageError(`${flag} takes a size such as 512m or 1g, not "${text}"`, command);
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes <= 0 || !Number.isSafeInteger(bytes)) {
    throw new UsageError(`${flag} must be a positive size, not "${text}"`, command);
  }
  return bytes;
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, "": 1000 };

/** "30s", "500ms", "2m", "1h", "45" (seconds). Returns milliseconds. */
export function parseDuration(text: string, flag: string, command: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|)$/i.exec(text.trim());
  const unit = durationUnits[match?.[2]?.toLowerCase() ?? ""];
  if (!match || unit === undefined) {
    throw new UsageError(
      `${flag} takes a duration such as 30s, 500ms or 2m, not "${text}"`,
      command,
    );
  }
  const ms = Math.round(Number(match[1]) * unit);
  if (ms <= 0 || ms > 2_147_483_647) {
    throw new UsageError(`${flag} must be between 1ms and about 24 days, not "${text}"`, command);
  }
  return ms;
}

export function parsePositiveNumber(
  text: string,
  flag: string,
  command: string,
  integer: boolean,
): number {
  const value = Number(text);
  const ok = text.trim() !== "" && Number.isFinite(value) && value > 0;
  if (!ok || (integer && !Number.isInteger(value))) {
    const kind = integer ? "a positive integer" : "a positive number";
    throw new UsageError(`${flag} takes ${kind}, not "${text}"`, command);
  }
  return value;
}
