import { vi } from "vitest";

/** Collects what the command under test writes to stdout (restore with vi.restoreAllMocks). */
export function captureStdout(): { text: () => string } {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  return { text: () => out };
}
