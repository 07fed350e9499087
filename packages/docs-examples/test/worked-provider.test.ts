import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createProvider, registerProvider } from "@cadre/agent-runtime";
import { runConformance } from "@cadre/agent-runtime-conformance";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { providerDescriptor } from "./worked-provider/mini-docker-provider.js";

// docs/writing-a-provider.md's worked example: a provider that lives in this test's directory,
// known to cadre through registerProvider() alone, runs the whole conformance suite on Docker and
// appears in `cadre-runtime doctor` and the capability matrix.

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, "..");
const work = join(packageDir, ".examples", "worked-provider");
// scripts/services.sh builds the image: busybox-static and three users.
const options = { socketPath: "/var/run/docker.sock", image: "cadre-test/busybox:1" };

registerProvider(providerDescriptor);
const hooks = await providerDescriptor.backendHooks(
  providerDescriptor.optionsSchema.parse(options),
);

/** The provider module, bundled as users would ship it: one ES module, cadre's packages outside. */
async function bundleProviderModule(): Promise<string> {
  const outfile = join(work, "mini-docker.mjs");
  await build({
    entryPoints: [join(here, "worked-provider", "provider-module.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "error",
  });
  return outfile;
}

async function unavailableReason(): Promise<string | undefined> {
  const report = await (
    await createProvider({ provider: "mini-docker", "mini-docker": options })
  ).doctor?.();
  const failed = report?.checks.filter((c) => !c.ok) ?? [];
  return failed.length === 0
    ? undefined
    : `mini-docker cannot run here (${failed.map((c) => c.title).join(", ")}): run scripts/services.sh up as root`;
}

await mkdir(work, { recursive: true });
const providerModule = await bundleProviderModule();
process.env.CADRE_MINI_DOCKER_OPTIONS = JSON.stringify(options);

runConformance({
  name: "mini-docker (the worked example)",
  image: options.image,
  createProvider: () => createProvider({ provider: "mini-docker", "mini-docker": options }),
  findBackendLeftovers: hooks.findBackendLeftovers,
  readBackendLabels: hooks.readBackendLabels,
  plantForeignObjects: hooks.plantForeignObjects,
  killFromOutside: hooks.killFromOutside,
  providerModule,
  unavailableReason: await unavailableReason(),
});

/** Runs a node program with the provider module imported first, as an operator would. */
async function withProvider(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", providerModule, ...args], {
    cwd: packageDir,
    env: { ...process.env, CADRE_MINI_DOCKER_OPTIONS: JSON.stringify(options) },
  });
  return stdout;
}

describe("the worked example, registered at run time", () => {
  it("is ready in cadre-runtime doctor, with its own checks", async () => {
    const config = join(work, "cadre.config.json");
    await writeFile(
      config,
      JSON.stringify({ isolation: { provider: "mini-docker", "mini-docker": options } }),
    );
    const cli = join(packageDir, "node_modules/@cadre/agent-runtime-cli/bin/cadre-runtime.js");
    const report = JSON.parse(await withProvider([cli, "doctor", "--config", config, "--json"]));
    expect(report.ready).toBe(true);
    expect(report.providers[0].providerId).toBe("mini-docker");
    expect(report.providers[0].checks.map((c: { id: string }) => c.id)).toEqual([
      "mini-docker.daemon",
      "mini-docker.image",
      "mini-docker.agent",
    ]);
  });

  it("has its column in the capability matrix, after the built-in providers", async () => {
    const matrix = join(packageDir, "node_modules/@cadre/agent-runtime-cli/dist/matrix.js");
    const printMatrix = `const { renderRegisteredCapabilityMatrix } = await import(${JSON.stringify(matrix)});
process.stdout.write(await renderRegisteredCapabilityMatrix());`;
    const page = await withProvider(["--input-type=module", "-e", printMatrix]);
    const header = page.split("\n").find((line) => line.startsWith("| field |"));
    expect(header).toMatch(/\| stub \| .*\| mini-docker \|$/);
    expect(page).toMatch(
      /\| `pids` \|.*\| yes: cgroup pids limit, 1024 when the policy is silent \|$/m,
    );
  });
});
