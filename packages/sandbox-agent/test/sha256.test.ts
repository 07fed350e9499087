import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { arch, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const compiler = arch() === "arm64" ? "aarch64-linux-musl-gcc" : "x86_64-linux-musl-gcc";
const haveCompiler = spawnSync(compiler, ["--version"]).status === 0;
const source = fileURLToPath(new URL("./c/sha256-paths.c", import.meta.url));

// The compiler builds the agent itself (scripts/build-agent.sh): under CI it is there.
describe.skipIf(!haveCompiler && process.env.CI !== "true")("cadre-agent's SHA-256", () => {
  it("gives the host's digest on this CPU's fast path and on the portable one, at every block edge and in random splits", () => {
    const dir = mkdtempSync(join(tmpdir(), "cadre-sha-"));
    try {
      const program = join(dir, "sha256-paths");
      execFileSync(compiler, [
        "-std=c11",
        "-D_GNU_SOURCE",
        "-O2",
        "-static",
        "-o",
        program,
        source,
      ]);
      const bytes = randomBytes(1 << 20);
      writeFileSync(join(dir, "bytes"), bytes);
      const lengths = [
        ...Array.from({ length: 200 }, (_, i) => i),
        511,
        512,
        513,
        4095,
        4096,
        65535,
        65536,
        65537,
        300_001,
        1 << 20,
      ];
      const out = execFileSync(program, [join(dir, "bytes"), ...lengths.map(String)], {
        encoding: "utf8",
      });
      const expected = lengths.map((n) =>
        createHash("sha256").update(bytes.subarray(0, n)).digest("hex"),
      );
      expect(out.trim().split("\n")).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
