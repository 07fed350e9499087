import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { agentBinaryFit, agentBinaryPath } from "../src/agent-binary.js";
import { ElfFormatError, readElfInfo } from "../src/elf.js";

const dir = mkdtempSync(join(tmpdir(), "cadre-elf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Both binaries the package ships; the package's build makes them (scripts/build-agent.sh). */
function shipped(architecture: "x64" | "arm64"): string {
  const path = agentBinaryPath(architecture);
  if (!path) throw new Error(`no cadre-agent binary for ${architecture}: run the package's build`);
  return path;
}

describe("readElfInfo", () => {
  it("refuses a file that is not ELF, and an empty one", () => {
    const text = join(dir, "script.sh");
    writeFileSync(text, "#!/bin/sh\necho not a binary\n");
    expect(() => readElfInfo(text)).toThrow(ElfFormatError);
    expect(() => readElfInfo(text)).toThrow(/is not an ELF file/);
    const empty = join(dir, "empty");
    writeFileSync(empty, "");
    expect(() => readElfInfo(empty)).toThrow(/is not an ELF file/);
  });

  it("refuses a truncated binary: cut inside its ELF header, or inside its program headers", () => {
    const whole = readFileSync(shipped("arm64"));
    const inHeader = join(dir, "cut-40");
    writeFileSync(inHeader, whole.subarray(0, 40));
    expect(() => readElfInfo(inHeader)).toThrow(/truncated ELF header/);
    const inTable = join(dir, "cut-100");
    writeFileSync(inTable, whole.subarray(0, 100));
    expect(() => readElfInfo(inTable)).toThrow(/truncated program headers/);
  });

  it("fails with the file system's error for a file that is not there", () => {
    expect(() => readElfInfo(join(dir, "missing"))).toThrow(/ENOENT/);
  });

  it("reads both shipped agents as static 64-bit little-endian executables of their machine", () => {
    for (const [architecture, machine, arch] of [
      ["x64", 62, "x86_64"],
      ["arm64", 183, "aarch64"],
    ] as const) {
      expect(readElfInfo(shipped(architecture))).toEqual({
        machine,
        arch,
        bits: 64,
        littleEndian: true,
        type: "exec",
        interpreter: undefined,
        dynamic: false,
        staticExecutable: true,
      });
    }
  });

  it("finds the program interpreter of a dynamically linked program", () => {
    // Node itself: a dynamically linked executable on every Linux it ships for.
    const node = readElfInfo(process.execPath);
    expect(node.interpreter).toMatch(/^\/lib.*\/ld-/);
    expect(node.dynamic).toBe(true);
    expect(node.staticExecutable).toBe(false);
  });
});

describe("agentBinaryFit", () => {
  it("says each shipped agent fits a host of its own architecture only", () => {
    expect(agentBinaryFit(shipped("x64"), "x64")).toMatchObject({ fits: true, arch: "x86_64" });
    expect(agentBinaryFit(shipped("arm64"), "arm64")).toMatchObject({
      fits: true,
      arch: "aarch64",
    });
    const wrong = agentBinaryFit(shipped("arm64"), "x64");
    expect(wrong).toMatchObject({ fits: false, arch: "aarch64" });
    expect(wrong.detail).toContain("built for aarch64, but this host is x86_64");
  });

  it("refuses a dynamically linked program and a file that is not ELF, saying why", () => {
    const dynamic = agentBinaryFit(process.execPath);
    expect(dynamic.fits).toBe(false);
    expect(dynamic.detail).toMatch(/dynamically linked \(\/lib.*\/ld-/);
    const text = join(dir, "not-elf");
    writeFileSync(text, "hello");
    expect(agentBinaryFit(text)).toEqual({
      fits: false,
      arch: undefined,
      detail: `${text} is not an ELF file`,
    });
  });
});
