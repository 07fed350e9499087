import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createProvider, loadConfig } from "@cadre/agent-runtime";
import { transform } from "esbuild";
import type { CodeBlock } from "./markdown-blocks.js";
import { cleanEnv, installPacked } from "./packed-install.js";

export const root = fileURLToPath(new URL("../../../", import.meta.url));
const packageDir = fileURLToPath(new URL("../", import.meta.url));
const examplesDir = join(packageDir, ".examples");
const registerHooks = join(packageDir, "hooks/register.mjs");

export interface Outcome {
  stdout: string;
  stderr: string;
  /** The pid of the process that ran the block, when one did. */
  pid?: number;
}

function spawnCollect(file: string, args: string[], cwd: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd, env: cleanEnv(), maxBuffer: 64 * 2 ** 20 },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(`${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`, { cause: error }),
          );
        } else resolve({ stdout, stderr, ...(child.pid ? { pid: child.pid } : {}) });
      },
    );
    // An empty stdin, as a terminal-less CI gives: execFile's stdin is a pipe that stays open,
    // and a command that forwards its stdin (cadre-runtime exec) would wait on it for ever.
    child.stdin?.end();
  });
}

/** A TypeScript block, as a module of its own: compiled by esbuild and run by node. */
export async function runTypeScript(block: CodeBlock): Promise<Outcome> {
  const { code } = await transform(block.code, { loader: "ts", format: "esm", target: "node20" });
  await mkdir(examplesDir, { recursive: true });
  const file = join(examplesDir, `${block.file.replaceAll("/", "_")}-${block.line}.mjs`);
  await writeFile(file, code);
  return spawnCollect(process.execPath, ["--import", registerHooks, file], packageDir);
}

/**
 * A shell block, line by line, from the repository's root. `npm test` is the command running
 * this check, so it is not run again; `npm install` of cadre's packages installs what they
 * would be published as (packed from this workspace) into an empty project, since they are not
 * on the registry.
 */
export async function runShell(block: CodeBlock): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const line of block.code.split("\n")) {
    const command = line.replace(/\s+#.*$/, "").trim();
    if (command === "" || command.startsWith("#") || /^npm test$/.test(command)) continue;
    const install = /^npm install((?:\s+@cadre\/[\w-]+)+)$/.exec(command);
    if (install) {
      outcomes.push(await installCadrePackages((install[1] ?? "").trim().split(/\s+/)));
      continue;
    }
    outcomes.push(await spawnCollect("bash", ["-euo", "pipefail", "-c", command], root));
  }
  return outcomes;
}

async function installCadrePackages(names: string[]): Promise<Outcome> {
  const work = await mkdtemp(join(tmpdir(), "cadre-docs-install-"));
  try {
    const project = await installPacked(names, work);
    const missing = names.filter(
      (n) => !existsSync(join(project, "node_modules", n, "package.json")),
    );
    if (missing.length > 0) throw new Error(`npm install left out ${missing.join(", ")}`);
    return { stdout: `installed ${names.join(" ")}`, stderr: "" };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A cadre.config.json block: loaded by loadConfig, and a command run on the provider it names. */
export async function runConfig(block: CodeBlock): Promise<Outcome> {
  const work = await mkdtemp(join(tmpdir(), "cadre-docs-config-"));
  const file = join(work, "cadre.config.json");
  await writeFile(file, block.code);
  const provider = await createProvider(await loadConfig(file));
  try {
    const id = await provider.startSession({});
    try {
      const result = await provider.exec(id, ["echo", "configured"], { timeoutMs: 60_000 });
      if (result.exitCode !== 0)
        throw new Error(`exec in the configured session: ${result.stderr}`);
      return { stdout: result.stdout, stderr: result.stderr };
    } finally {
      await provider.destroySession(id);
    }
  } finally {
    await provider.close?.();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * A block that quotes a file which a test runs (`<!-- docs-run: excerpt of PATH -->`, PATH from
 * the repository's root): it must appear there line for line, so that the guide shows the code
 * that passes, never an older copy of it.
 */
export async function checkExcerpt(block: CodeBlock, path: string): Promise<Outcome> {
  const source = await readFile(join(root, path), "utf8");
  if (!source.includes(block.code)) {
    throw new Error(
      `${block.file}:${block.line} is not a verbatim excerpt of ${path}: copy the lines from there again`,
    );
  }
  return { stdout: "", stderr: "" };
}
