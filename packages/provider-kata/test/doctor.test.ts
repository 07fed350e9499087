import { existsSync } from "node:fs";
import { agentBinaryPath } from "@cadre/agent-runtime-sandbox-agent";
import { afterAll, expect, it } from "vitest";
import { agentCheck } from "../src/host/doctor.js";
import { KataProvider } from "../src/index.js";
import { describeWithContainerd } from "./support/available.js";
import { shimDir, variantOptions } from "./support/containerd-env.js";

describeWithContainerd("doctor on this host", () => {
  const providers: KataProvider[] = [];
  const make = (options: ConstructorParameters<typeof KataProvider>[0]) => {
    const p = new KataProvider(options);
    providers.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of providers) await p.close();
  });

  it("names the missing /dev/vhost-vsock as the reason real Kata cannot run", async () => {
    expect(existsSync("/dev/vhost-vsock"), "this test describes a host without vhost-vsock").toBe(
      false,
    );
    const { unsafeUseStandInShim: _, ...kataOptions } = variantOptions("kata-stand-in");
    const report = await make(kataOptions).doctor();
    expect(report.ready).toBe(false);
    const vsock = report.checks.find((c) => c.id === "kata.vhost-vsock");
    expect(vsock).toMatchObject({ ok: false, required: true });
    expect(vsock?.detail).toContain("real Kata cannot run");
    expect(vsock?.fix).toContain("vhost_vsock");
    // The stand-in shim is found and recognised as not Kata's.
    const shim = report.checks.find((c) => c.id === "kata.shim");
    expect(shim).toMatchObject({ ok: false, required: true });
    expect(shim?.detail).toContain(`${shimDir}/containerd-shim-kata-v2`);
    expect(report.checks.find((c) => c.id === "containerd.version")).toMatchObject({ ok: true });
  });

  it("checks the cadre-agent binary every session runs as PID 1: present, static, this host's machine", async () => {
    const report = await make(variantOptions("runc")).doctor();
    const agent = report.checks.find((c) => c.id === "kata.agent");
    expect(agent).toMatchObject({ ok: true, required: true });
    expect(agent?.detail).toMatch(/static (x86_64|aarch64) executable/);
    expect(agentCheck(undefined)).toMatchObject({ ok: false, required: true });
    const foreign = agentBinaryPath(process.arch === "x64" ? "arm64" : "x64");
    expect(foreign, "the package ships the other architecture's agent too").toBeDefined();
    const misfit = agentCheck(foreign);
    expect(misfit).toMatchObject({ ok: false, required: true });
    expect(misfit.detail).toContain("but this host is");
  });

  it("fails closed: startSession gives PROVIDER_UNAVAILABLE with the failed checks", async () => {
    const { unsafeUseStandInShim: _, ...kataOptions } = variantOptions("kata-stand-in");
    const error = await make(kataOptions)
      .startSession({})
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    const ids = (error as { checks: { id: string }[] }).checks.map((c) => c.id);
    expect(ids).toContain("kata.vhost-vsock");
    expect(ids).toContain("kata.shim");
  });

  it("with unsafeUseStandInShim says loudly that there is no VM, and reports isolation container", async () => {
    const provider = make(variantOptions("kata-stand-in"));
    const report = await provider.doctor();
    expect(report.ready).toBe(true);
    const loud = report.checks.find((c) => c.id === "kata.unsafe-stand-in-shim");
    expect(loud?.title).toContain("NO VM ISOLATION");
    expect(report.checks.find((c) => c.id === "kata.vhost-vsock")).toMatchObject({
      ok: false,
      required: false,
    });
    expect((await provider.capabilities()).isolation).toBe("container");
    const error = await provider.startSession({ minimumIsolation: "vm" }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "CAPABILITY_MISMATCH",
      unsupportedPolicies: ["minimumIsolation"],
    });
  });

  it("runs `kata-runtime check` when runtimePath is set, and reports its failure", async () => {
    const report = await make({
      ...variantOptions("kata-stand-in"),
      runtimePath: "/nonexistent/kata-runtime",
    }).doctor();
    expect(report.checks.find((c) => c.id === "kata.runtime-check")).toMatchObject({
      ok: false,
      required: true,
    });
    expect(report.ready).toBe(false);
  });

  it("reports gVisor as a user-space kernel and the runc shim as a container", async () => {
    expect((await make(variantOptions("runsc")).capabilities()).isolation).toBe("user-kernel");
    expect((await make(variantOptions("runc")).capabilities()).isolation).toBe("container");
    const missing = await make({
      ...variantOptions("runc"),
      image: "docker.io/cadre-test/absent:1",
    }).doctor();
    expect(missing.checks.find((c) => c.id === "kata.image")).toMatchObject({ ok: false });
  });
});
