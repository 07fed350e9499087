import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** What an ELF file's header and program headers say about how it runs. */
export interface ElfInfo {
  /** e_machine: 62 x86-64, 183 AArch64, ... */
  machine: number;
  /** uname's name of that machine ("x86_64", "aarch64", ...), or `machine <n>` for another. */
  arch: string;
  bits: 32 | 64;
  littleEndian: boolean;
  /** e_type: "exec" (ET_EXEC), "dyn" (ET_DYN: a shared object or a position-independent executable), or another. */
  type: "exec" | "dyn" | "other";
  /** The program interpreter (PT_INTERP) it asks the kernel for, such as /lib/ld-musl-aarch64.so.1. */
  interpreter: string | undefined;
  /** Whether it has a dynamic section (PT_DYNAMIC). */
  dynamic: boolean;
  /** An executable that runs on the kernel alone: no interpreter, no dynamic section. */
  staticExecutable: boolean;
}

/** A file that is not an ELF file, or one this reader cannot read to the end of its program headers. */
export class ElfFormatError extends Error {
  override readonly name = "ElfFormatError";
}

const unameOfMachine: Record<number, string> = {
  3: "i686",
  8: "mips",
  20: "ppc",
  21: "ppc64",
  22: "s390x",
  40: "arm",
  62: "x86_64",
  183: "aarch64",
  243: "riscv64",
};

const PT_DYNAMIC = 2;
const PT_INTERP = 3;
/** e_phnum's escape for more program headers than fit in it: no binary of ours needs it. */
const PN_XNUM = 0xffff;

function readAt(fd: number, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const got = readSync(fd, buffer, done, length - done, offset + done);
    if (got === 0) break;
    done += got;
  }
  return buffer.subarray(0, done);
}

/**
 * Reads the ELF header and program headers of the file at `path` (a few hundred bytes, never the
 * whole file). Throws ElfFormatError for a file that is not ELF or is cut short, and the file
 * system's error for one that cannot be opened.
 */
export function readElfInfo(path: string): ElfInfo {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const ident = readAt(fd, 0, 16);
    if (ident.length < 4 || ident.readUInt32BE(0) !== 0x7f454c46) {
      throw new ElfFormatError(`${path} is not an ELF file`);
    }
    if (ident.length < 16) throw new ElfFormatError(`${path}: truncated ELF header`);
    const elfClass = ident[4];
    const data = ident[5];
    if (elfClass !== 1 && elfClass !== 2) {
      throw new ElfFormatError(`${path}: unknown ELF class ${elfClass}`);
    }
    if (data !== 1 && data !== 2)
      throw new ElfFormatError(`${path}: unknown ELF byte order ${data}`);
    const bits = elfClass === 2 ? 64 : 32;
    const littleEndian = data === 1;
    const headerSize = bits === 64 ? 64 : 52;
    const header = readAt(fd, 0, headerSize);
    if (header.length < headerSize) throw new ElfFormatError(`${path}: truncated ELF header`);

    const u16 = (b: Buffer, at: number) => (littleEndian ? b.readUInt16LE(at) : b.readUInt16BE(at));
    const u32 = (b: Buffer, at: number) => (littleEndian ? b.readUInt32LE(at) : b.readUInt32BE(at));
    const word = (b: Buffer, at: number) => {
      if (bits === 32) return u32(b, at);
      const value = littleEndian ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new ElfFormatError(`${path}: an offset past any file's size`);
      }
      return Number(value);
    };

    const eType = u16(header, 16);
    const machine = u16(header, 18);
    const phoff = word(header, bits === 64 ? 32 : 28);
    const phentsize = u16(header, bits === 64 ? 54 : 42);
    const phnum = u16(header, bits === 64 ? 56 : 44);
    if (phnum === PN_XNUM) throw new ElfFormatError(`${path}: too many program headers`);
    const minEntry = bits === 64 ? 56 : 32;
    if (phnum > 0 && phentsize < minEntry) {
      throw new ElfFormatError(`${path}: program header entries of ${phentsize} bytes`);
    }
    if (phoff + phnum * phentsize > size) {
      throw new ElfFormatError(`${path}: truncated program headers`);
    }
    const table = readAt(fd, phoff, phnum * phentsize);

    let interpreter: string | undefined;
    let dynamic = false;
    for (let i = 0; i < phnum; i++) {
      const entry = table.subarray(i * phentsize, (i + 1) * phentsize);
      const pType = u32(entry, 0);
      if (pType === PT_DYNAMIC) dynamic = true;
      if (pType === PT_INTERP) {
        const offset = word(entry, bits === 64 ? 8 : 4);
        const length = Math.min(word(entry, bits === 64 ? 32 : 16), 4096);
        if (offset + length > size) throw new ElfFormatError(`${path}: truncated interpreter`);
        const raw = readAt(fd, offset, length);
        const end = raw.indexOf(0);
        interpreter = raw.subarray(0, end === -1 ? raw.length : end).toString("latin1");
      }
    }
    const type = eType === 2 ? "exec" : eType === 3 ? "dyn" : "other";
    return {
      machine,
      arch: unameOfMachine[machine] ?? `machine ${machine}`,
      bits,
      littleEndian,
      type,
      interpreter,
      dynamic,
      staticExecutable: type === "exec" && interpreter === undefined && !dynamic,
    };
  } finally {
    closeSync(fd);
  }
}
