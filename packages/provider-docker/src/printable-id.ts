/**
 * A session id as text for an error, whatever the caller passed: JSON.stringify throws on a
 * BigInt inside an object and String() on an object without a prototype.
 */
export function printableId(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
