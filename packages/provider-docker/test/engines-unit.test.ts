import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProviderUnavailableError } from "@cadre/agent-runtime-contract";
import { agentBinaryPath, agentMountPath } from "@cadre/agent-runtime-sandbox-agent";
import { describe, expect, it } from "vitest";
import { dockerConnection } from "../src/connection.js";
import { agentArchive, agentPathIn, agentVolumePath } from "../src/container-agent.js";
import { containerSpec } from "../src/container-spec.js";
import { containerGone } from "../src/docker-errors.js";
import { dockerodeOptions } from "../src/dockerode-options.js";
import { connectionCheck } from "../src/doctor-checks.js";
import { hostFactsFromInfo, runtimeRegistered } from "../src/host-facts.js";
import { reportForHost } from "../src/host-report.js";
import { createDockerProvider } from "../src/index.js";
import { knownHostKey } from "../src/known-hosts.js";
import { dockerOptionsSchema } from "../src/options.js";
import { narrowedProfile } from "../src/podman-seccomp.js";

describe("dockerConnection: TLS, SSH and plain TCP (no daemon needed)", () => {
  it("reads DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the docker command does", () => {
    expect(
      dockerConnection(
        {},
        { DOCKER_HOST: "tcp://d.example:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/c" },
      ),
    ).toEqual({
      host: "d.example",
      port: 2376,
      tls: { ca: "/c/ca.pem", cert: "/c/cert.pem", key: "/c/key.pem" },
    });
    // TLS's default port; an unset or "0" DOCKER_TLS_VERIFY is plain (and refused later).
    expect(
      dockerConnection(
        {},
        { DOCKER_HOST: "tcp://d", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/c" },
      ),
    ).toMatchObject({ port: 2376 });
    expect(dockerConnection({}, { DOCKER_HOST: "tcp://d", DOCKER_TLS_VERIFY: "0" })).toEqual({
      host: "d",
      port: 2375,
      insecure: false,
    });
  });

  it("takes tls and insecure from the options, for the host option or DOCKER_HOST", () => {
    const tls = { ca: "/a", cert: "/b", key: "/k" };
    expect(dockerConnection({ host: "h", tls })).toEqual({ host: "h", port: 2376, tls });
    expect(dockerConnection({ tls }, { DOCKER_HOST: "tcp://e:9999" })).toEqual({
      host: "e",
      port: 9999,
      tls,
    });
    expect(dockerConnection({ insecure: true }, { DOCKER_HOST: "tcp://e" })).toEqual({
      host: "e",
      port: 2375,
      insecure: true,
    });
  });

  it("reads ssh://user@host:port, with the ssh option's key and known_hosts", () => {
    expect(
      dockerConnection(
        { ssh: { privateKey: "/k", knownHosts: "/kh" } },
        { DOCKER_HOST: "ssh://ops@build.example:2222" },
      ),
    ).toEqual({
      host: "build.example",
      port: 2222,
      ssh: { user: "ops", privateKey: "/k", knownHosts: "/kh" },
    });
    const viaOption = dockerConnection({ host: "h", ssh: { user: "u" } }, {});
    expect(viaOption).toMatchObject({ host: "h", port: 22, ssh: { user: "u" } });
    expect((viaOption as { ssh: { knownHosts: string } }).ssh.knownHosts).toMatch(
      /\.ssh\/known_hosts$/,
    );
  });

  it("is a set of the provider's options, which the schema accepts back", () => {
    for (const connection of [
      dockerConnection({}, { DOCKER_HOST: "tcp://d" }),
      dockerConnection({}, { DOCKER_HOST: "ssh://u@d" }),
      dockerConnection({ host: "h", tls: { ca: "/a", cert: "/b", key: "/k" } }),
      dockerConnection({}, {}),
    ]) {
      expect(dockerOptionsSchema.safeParse(connection).success, JSON.stringify(connection)).toBe(
        true,
      );
    }
  });

  it("refuses options that exclude each other, naming them", () => {
    const issues = (options: unknown) =>
      dockerOptionsSchema.safeParse(options).error?.issues.map((i) => i.path.join("."));
    const tls = { ca: "/a", cert: "/b", key: "/k" };
    expect(issues({ socketPath: "/s", tls })).toEqual(["tls"]);
    expect(issues({ host: "h", tls, ssh: {} })).toEqual(["ssh"]);
    expect(issues({ host: "h", insecure: true, tls })).toEqual(["insecure"]);
    expect(issues({ tls: { ca: "relative", cert: "/b", key: "/k" } })).toEqual(["tls.ca"]);
  });
});

describe("dockerodeOptions and the connection check (no daemon needed)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cadre-connection-"));
  const secret = `-----BEGIN PRIVATE KEY-----\n${randomBytes(24).toString("base64")}\n`;
  writeFileSync(join(dir, "ca.pem"), "ca");
  writeFileSync(join(dir, "cert.pem"), "cert");
  writeFileSync(join(dir, "key.pem"), secret);

  it("refuses plain TCP without insecure, and says how to secure it", () => {
    const made = dockerodeOptions({ host: "h", port: 2375, insecure: false });
    expect("refused" in made && made.refused).toMatchObject({
      id: "docker.connection",
      ok: false,
      required: true,
    });
    expect("refused" in made && made.refused.fix).toContain("DOCKER_TLS_VERIFY");
    expect(dockerodeOptions({ host: "h", port: 2375, insecure: true })).toMatchObject({
      options: { host: "h", port: 2375, protocol: "http" },
    });
  });

  it("reads the TLS files, and names a missing one without any file's content", () => {
    const tls = { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
    const made = dockerodeOptions({ host: "h", port: 2376, tls });
    expect(made).toMatchObject({ options: { protocol: "https", host: "h", port: 2376 } });
    const missing = dockerodeOptions({
      host: "h",
      port: 2376,
      tls: { ...tls, cert: join(dir, "absent.pem") },
    });
    expect("refused" in missing && missing.refused.detail).toContain(join(dir, "absent.pem"));
    expect(JSON.stringify(missing)).not.toContain(secret.slice(30, 50));
  });

  it("reports the security of each kind, plain TCP as INSECURE", () => {
    expect(connectionCheck({ socketPath: "/s" }, "unix:///s")).toMatchObject({ ok: true });
    expect(
      connectionCheck(
        { host: "h", port: 22, ssh: { user: "u", knownHosts: "/kh" } },
        "ssh://u@h:22",
      ).detail,
    ).toContain("host key checked against /kh");
    const loud = connectionCheck({ host: "h", port: 2375, insecure: true }, "tcp://h:2375");
    expect(loud).toMatchObject({ ok: false, required: false });
    expect(loud.detail).toMatch(/^INSECURE: /);
  });
});

describe("knownHostKey (no daemon needed)", () => {
  const key = randomBytes(51);
  const other = randomBytes(51);
  const b64 = key.toString("base64");
  const hashed = (name: string) => {
    const salt = randomBytes(20);
    const hash = createHmac("sha1", salt).update(name).digest();
    return `|1|${salt.toString("base64")}|${hash.toString("base64")}`;
  };

  it("finds a key listed for the host, plain or hashed, with [host]:port for other ports", () => {
    expect(knownHostKey(`h.example,10.0.0.1 ssh-ed25519 ${b64}\n`, "10.0.0.1", 22, key)).toBe(
      "known",
    );
    expect(knownHostKey(`[h]:2222 ssh-ed25519 ${b64}`, "h", 2222, key)).toBe("known");
    expect(knownHostKey(`h ssh-ed25519 ${b64}`, "h", 2222, key)).toBe("unknown");
    expect(knownHostKey(`${hashed("[h]:2222")} ssh-ed25519 ${b64}`, "h", 2222, key)).toBe("known");
    expect(knownHostKey(`${hashed("h")} ssh-ed25519 ${b64}`, "g", 22, key)).toBe("unknown");
  });

  it("refuses another key, a revoked one, and ignores comments and CA lines", () => {
    expect(knownHostKey(`h ssh-ed25519 ${b64}`, "h", 22, other)).toBe("unknown");
    expect(knownHostKey(`h ssh-ed25519 ${b64}\n@revoked h ssh-ed25519 ${b64}`, "h", 22, key)).toBe(
      "revoked",
    );
    expect(
      knownHostKey(`# h ssh-ed25519 ${b64}\n@cert-authority h ssh-ed25519 ${b64}`, "h", 22, key),
    ).toBe("unknown");
  });
});

describe("the agent on a daemon elsewhere (no daemon needed)", () => {
  it("is a tar of the volume's root and the binary, owned by the agent's uid, mode 0555", () => {
    const binary = agentBinaryPath()!;
    const dir = mkdtempSync(join(tmpdir(), "cadre-agent-tar-"));
    writeFileSync(join(dir, "agent.tar"), agentArchive(binary));
    const listing = execFileSync("tar", ["--numeric-owner", "-tvf", join(dir, "agent.tar")], {
      encoding: "utf8",
    });
    const lines = listing.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^dr-xr-xr-x 65533\/65533 +0 .* \.\/$/);
    expect(lines[1]).toMatch(/^-r-xr-xr-x 65533\/65533 +\d+ .* \.\/cadre-agent$/);
    execFileSync("tar", ["-xf", join(dir, "agent.tar"), "-C", dir, "./cadre-agent"]);
    expect(execFileSync("cmp", [binary, join(dir, "cadre-agent")]).length).toBe(0);
  });

  it("goes into a volume of its own instead of a bind mount, and the entrypoint follows", () => {
    const base = {
      sessionId: "cadre-0123456789abcdef",
      image: "img",
      runtime: "runc" as const,
      policy: { readOnlyRootfs: true },
      labels: { "cadre.agent-runtime/session-id": "cadre-0123456789abcdef" },
      hostCpus: 2,
      networkMode: "none",
      agentBinary: "/opt/cadre-agent",
    };
    const mounted = containerSpec(base);
    expect(mounted.HostConfig?.Binds).toEqual([`/opt/cadre-agent:${agentMountPath}:ro`]);
    expect(mounted.Entrypoint).toEqual([agentMountPath]);
    const copied = containerSpec({ ...base, agentDelivery: "copy" });
    expect(copied.HostConfig?.Binds).toBeUndefined();
    expect(copied.Entrypoint).toEqual([agentPathIn("copy")]);
    expect(copied.HostConfig?.Mounts).toEqual([
      expect.objectContaining({
        Type: "volume",
        Target: agentVolumePath,
        VolumeOptions: expect.objectContaining({ Labels: base.labels }),
      }),
    ]);
    const podman = containerSpec({ ...base, engine: "podman", seccompProfile: "/p.json" });
    expect(podman.HostConfig?.SecurityOpt).toEqual(["no-new-privileges", "seccomp=/p.json"]);
    expect(podman.HostConfig?.Ulimits?.map((u) => u.Name)).toEqual(["nofile", "nproc"]);
    expect(podman.Cmd).toContain("--nofile");
  });
});

describe("Podman (no daemon needed)", () => {
  const info = {
    ServerVersion: "4.3.1",
    Runtimes: { crun: { path: "/usr/bin/crun" }, runc: { path: "/usr/bin/runc" } },
    DefaultRuntime: "crun",
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsQuota: true,
    CpuCfsPeriod: true,
    CPUSet: true,
    PidsLimit: true,
    CgroupVersion: "1",
    NCPU: 2,
  };
  const version = { ApiVersion: "1.41", Components: [{ Name: "Podman Engine" }] };

  it("is told from Docker by its version's components, and runs its default runtime only", () => {
    const facts = hostFactsFromInfo(info, version);
    expect(facts.engine).toBe("podman");
    expect(runtimeRegistered(facts, "crun")).toBe(true);
    expect(runtimeRegistered(facts, "runc")).toBe(false);
    expect(hostFactsFromInfo(info, { ApiVersion: "1.41" }).engine).toBe("docker");
  });

  it("rootful: the crun row with no session network; rootless on cgroup v1: no cgroup limits", () => {
    const rootful = reportForHost("crun", hostFactsFromInfo(info, version));
    expect(rootful.variant).toBe("podman, crun");
    expect(rootful.defaults.network).toBe("none");
    expect(rootful.policy.memory.enforced).toBe(true);
    const rootless = reportForHost("crun", { ...hostFactsFromInfo(info, version), rootless: true });
    expect(rootless.variant).toBe("podman rootless, crun, cgroup v1");
    for (const field of ["memory", "cpu", "pids"] as const) {
      expect(rootless.policy[field].enforced, field).toBe(false);
    }
    expect(rootless.defaults.pids).toBeUndefined();
    // Its containers have no cgroup: nothing of their use is counted.
    expect(rootful.features.usage).toBe(true);
    expect(rootless.features.usage).toBe(false);
    expect(rootless.defaults.openFiles).toBe(4096);
  });

  it("narrows the default seccomp profile: no unshare, clone without namespace flags, no clone3", () => {
    const profile = narrowedProfile({
      syscalls: [
        { names: ["read", "clone", "clone3", "unshare"], action: "SCMP_ACT_ALLOW", args: [] },
        { names: ["setns"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      ],
    }) as { syscalls: { names: string[]; action: string; args?: unknown[] }[] };
    const allowed = profile.syscalls.filter((r) => r.action === "SCMP_ACT_ALLOW");
    expect(allowed[0]?.names).toEqual(["read"]);
    expect(allowed[1]?.names).toEqual(["setns"]);
    const clone = allowed.find((r) => r.names.includes("clone"));
    expect(clone?.args).toEqual([
      { index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" },
    ]);
    expect(allowed.some((r) => r.names.includes("unshare") || r.names.includes("clone3"))).toBe(
      false,
    );
  });
});

describe("containerGone (no daemon needed)", () => {
  const says = (statusCode: number, message: string) => ({ statusCode, json: { message } });

  it("is Docker's 404 and Podman's 500 for a container removed while the call ran", () => {
    expect(containerGone(says(404, "No such container: x"))).toBe(true);
    expect(
      containerGone(says(500, "container c4 does not exist in database: no such container")),
    ).toBe(true);
    expect(containerGone(says(500, "something else broke"))).toBe(false);
    expect(containerGone(says(409, "is not running"))).toBe(false);
  });
});

describe("a DOCKER_CERT_PATH without its files (no daemon needed)", () => {
  it("refuses the connection with the check naming it, instead of throwing at construction", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      DOCKER_HOST: "tcp://127.0.0.1:9",
      DOCKER_TLS_VERIFY: "1",
      DOCKER_CERT_PATH: "/nonexistent/cadre-test/certs",
    });
    try {
      const provider = createDockerProvider();
      const error = await provider.startSession({}).catch((e: unknown) => e);
      expect(ProviderUnavailableError.isInstance(error)).toBe(true);
      const [check] = (error as ProviderUnavailableError).checks;
      expect(check).toMatchObject({ id: "docker.connection", ok: false, required: true });
      expect(check?.detail).toContain("/nonexistent/cadre-test/certs/ca.pem");
      await provider.close();
    } finally {
      for (const key of ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"]) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });
});
