import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installPacked, productionPackages } from "../src/packed-install.js";

// What cadre core installs: this package and the one provider it runs (the stub here), packed as
// they would be published and installed with npm into an empty project. npm needs the registry
// (zod); without it the install fails, and so does this file.
const consumerScript = fileURLToPath(
  new URL("./fixtures/production-consumer.mjs", import.meta.url),
);
// Packing and installing with npm: minutes on a slow or loaded machine, not a performance limit.
const installTimeout = 10 * 60_000;

let work: string;
let project: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "cadre-production-install-"));
  project = await installPacked(
    ["@cadre/agent-runtime", "@cadre/agent-runtime-provider-stub"],
    work,
  );
}, installTimeout);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the production install of @cadre/agent-runtime (npm, from packed tarballs)", () => {
  it(
    "holds neither vitest nor the conformance suite, the command line or a provider not asked for",
    async () => {
      const installed = await productionPackages(project);
      const names = installed.map((entry) => entry.slice(0, entry.lastIndexOf("@")));
      expect(names).toContain("@cadre/agent-runtime");
      expect(names).toContain("@cadre/agent-runtime-provider-stub");
      for (const absent of [
        "vitest",
        "@cadre/agent-runtime-conformance",
        "@cadre/agent-runtime-cli",
        "@cadre/agent-runtime-provider-docker",
        "@cadre/agent-runtime-provider-kata",
        "dockerode",
      ]) {
        expect(names, `npm ls --omit=dev --all: ${installed.join(", ")}`).not.toContain(absent);
      }
    },
    installTimeout,
  );

  it(
    "loadConfig, createProvider and SessionPool import and run a command on the stub",
    async () => {
      const script = join(project, "consumer.mjs");
      await copyFile(consumerScript, script);
      const stateDir = join(work, "stub-state");
      await mkdir(stateDir);
      const { stdout } = await promisify(execFile)(process.execPath, [script, stateDir], {
        cwd: project,
      });
      expect(JSON.parse(stdout)).toEqual({
        provider: "stub",
        exitCode: 0,
        stdout: "from the install\n",
        hits: 1,
      });
    },
    installTimeout,
  );
});
