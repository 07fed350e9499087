import type { z } from "zod";

/**
 * Sizes the contract accepts, so that every provider serves the same inputs. They come from the
 * strictest place a value lands: execve(2) for argv and env (Linux refuses one string over
 * 128 KiB with its NUL, and all of them together over a quarter of the stack limit, 2 MiB by
 * default), and containerd's labels for labels (4096 bytes per key and value). A policy's env,
 * an exec's env and its argv each fit in 512 KiB, so all three together stay under 2 MiB.
 */
export const sizeLimits = {
  /** One argv string, or one NAME=VALUE env entry, in UTF-8 bytes. */
  maxStringBytes: 128 * 1024 - 1,
  argv: { maxTotalBytes: 512 * 1024 },
  env: { maxVariables: 1024, maxNameLength: 128, maxTotalBytes: 512 * 1024 },
  labels: { maxLabels: 64, maxKeyLength: 128, maxValueLength: 1024, maxTotalBytes: 16 * 1024 },
} as const;

/**
 * The length of `s` in UTF-8, counted without encoding it (exec measures every argument and env
 * entry). A lone surrogate counts 3, as the replacement character it is encoded to.
 */
export function utf8Bytes(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

const kib = (bytes: number) => `${Math.floor(bytes / 1024)} KiB`;

/** A string execve(2) takes: at most {@link sizeLimits.maxStringBytes} bytes of UTF-8. */
export function checkStringBytes(
  value: string,
  ctx: z.RefinementCtx,
  what: string,
  path: PropertyKey[] = [],
): void {
  if (utf8Bytes(value) <= sizeLimits.maxStringBytes) return;
  ctx.addIssue({
    code: "custom",
    path,
    message: `${what} is over ${sizeLimits.maxStringBytes} bytes (UTF-8), the most one execve string holds; pass large values through stdin or a file`,
  });
}

/** The sum of `sizeOf` over `items` stays within `max` bytes. */
export function checkTotalBytes<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  max: number,
  ctx: z.RefinementCtx,
  what: string,
): void {
  let total = 0;
  for (const item of items) total += sizeOf(item);
  if (total <= max) return;
  ctx.addIssue({
    code: "custom",
    message: `${what} take ${total} bytes (UTF-8) together, over the contract's ${kib(max)}; pass large values through stdin or a file`,
  });
}

/** Bytes an env entry takes in execve(2): NAME=VALUE and its NUL. */
export function envEntryBytes([name, value]: [string, string]): number {
  return utf8Bytes(name) + 1 + utf8Bytes(value) + 1;
}

export function labelBytes([key, value]: [string, string]): number {
  return utf8Bytes(key) + utf8Bytes(value);
}

export function argBytes(arg: string): number {
  return utf8Bytes(arg) + 1;
}
