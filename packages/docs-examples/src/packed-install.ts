import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../", import.meta.url));

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/**
 * The environment of a nested npm or pnpm, without the npm_* and pnpm_* variables a `pnpm run`
 * sets for its script: npm would read npm_config_dir, npm_config_prefix and the like as its own
 * configuration. A user's NPM_CONFIG_* (upper case, e.g. a registry mirror) stays.
 */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith("npm_") && !key.startsWith("pnpm_"),
    ),
  );
}

async function command(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, {
      cwd,
      env: cleanEnv(),
      maxBuffer: 64 * 2 ** 20,
    });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${file} ${args.join(" ")} failed in ${cwd}: ${(error as Error).message}\n${stderr ?? ""}${stdout ?? ""}`,
      { cause: error },
    );
  }
}

async function workspacePackages(): Promise<Map<string, { dir: string; manifest: Manifest }>> {
  const packages = new Map<string, { dir: string; manifest: Manifest }>();
  for (const entry of await readdir(join(root, "packages"))) {
    const dir = join(root, "packages", entry);
    const file = join(dir, "package.json");
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(await readFile(file, "utf8")) as Manifest;
    packages.set(manifest.name, { dir, manifest });
  }
  return packages;
}

/** `names` and every workspace package they need at run time: dependencies and required peers. */
function runtimeClosure(
  names: string[],
  packages: Map<string, { manifest: Manifest }>,
): Set<string> {
  const needed = new Set<string>();
  const visit = (name: string) => {
    const found = packages.get(name);
    if (!found || needed.has(name)) return;
    needed.add(name);
    const { dependencies = {}, peerDependencies = {}, peerDependenciesMeta = {} } = found.manifest;
    for (const dependency of Object.keys(dependencies)) visit(dependency);
    for (const peer of Object.keys(peerDependencies)) {
      if (!peerDependenciesMeta[peer]?.optional) visit(peer);
    }
  };
  for (const name of names) visit(name);
  return needed;
}

/**
 * Packs `names` and the workspace packages they need as they would be published (pnpm rewrites
 * `workspace:^` to versions), and installs every tarball with one `npm install` (the registry
 * for the rest) into an empty project under `work`. Returns the project's folder.
 */
export async function installPacked(names: string[], work: string): Promise<string> {
  const packages = await workspacePackages();
  const tarballs = join(work, "tarballs");
  const project = join(work, "consumer");
  await mkdir(tarballs, { recursive: true });
  await mkdir(project, { recursive: true });
  for (const name of runtimeClosure(names, packages)) {
    const { dir } = packages.get(name)!;
    if (!existsSync(join(dir, "dist"))) {
      throw new Error(`${name} is not built (${dir}/dist is missing): run pnpm turbo run build`);
    }
    await command(
      "bash",
      [join(root, "scripts/with-pnpm.sh"), "--dir", dir, "pack", "--pack-destination", tarballs],
      root,
    );
  }
  const files = (await readdir(tarballs)).map((file) => join(tarballs, file));
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({ name: "cadre-core-stand-in", private: true, type: "module" }),
  );
  await command("npm", ["install", "--no-audit", "--no-fund", ...files], project);
  return project;
}

interface NpmTree {
  version?: string;
  dependencies?: Record<string, NpmTree>;
}

/**
 * `name@version` of every package `npm ls --omit=dev --all` finds installed in `project`
 * (`--omit=dev` is what npm now calls `--prod`). Optional peers that are absent are left out.
 */
export async function productionPackages(project: string): Promise<string[]> {
  const tree = JSON.parse(
    await command("npm", ["ls", "--omit=dev", "--all", "--json"], project),
  ) as NpmTree;
  const found = new Set<string>();
  const walk = (node: NpmTree) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.version === undefined) continue;
      found.add(`${name}@${child.version}`);
      walk(child);
    }
  };
  walk(tree);
  return [...found].sort();
}
