import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StubBackend } from "@cadre/agent-runtime-provider-stub";

/**
 * The stub's backend as the conformance suite's hooks see it, read and written without the
 * provider (the stub package's StubBackend), on a state directory of its own.
 */
export class FixtureBackend extends StubBackend {
  constructor() {
    super(mkdtempSync(join(tmpdir(), "cadre-selftest-")));
  }

  async remove(): Promise<void> {
    await rm(this.stateDir, { recursive: true, force: true });
  }
}
