import {
  AgentRuntimeError,
  type ExecResult,
  type PolicyField,
  policyFields,
} from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { expectEnded, expectStartRefused, sessionLives, unsupportedOf } from "../expect-error.js";
import { clampToLimits, requestValue } from "../policy-values.js";
import { forkBombArgv, forkProbeArgv, memoryHogArgv } from "../probes.js";
import type { ConformanceContext } from "../suite-context.js";
import { testLabelKey } from "../suite-context.js";
import { conformanceTestNames } from "../test-names.js";
import { waitUntil } from "../wait-until.js";

const names = conformanceTestNames.enforcement;
const MiB = 1024 * 1024;

type ProbedField = Exclude<PolicyField, "minimumIsolation">;
type Probe = (ctx: ConformanceContext) => Promise<void>;

const probes: Record<ProbedField, Probe> = {
  async memory(ctx) {
    const limit = clampToLimits(ctx, "memory", 64 * MiB);
    const id = await ctx.start({ memory: limit });
    const small = await ctx.provider.exec(id, memoryHogArgv(Math.floor(limit / 4)), {
      timeoutMs: ctx.ms(30_000),
    });
    expect(small.exitCode, `dd with a quarter of the limit works: ${small.stderr}`).toBe(0);

    let hog: ExecResult | undefined;
    try {
      hog = await ctx.provider.exec(id, memoryHogArgv(limit * 4), { timeoutMs: ctx.ms(30_000) });
    } catch (error) {
      // A provider may report the kill as a RESOURCE_LIMIT error instead of a result.
      if (!AgentRuntimeError.isInstance(error) || error.code !== "RESOURCE_LIMIT") throw error;
    }
    if (hog) {
      expect(hog.timedOut).toBe(false);
      expect(hog.exitCode, "dd with four times the limit must not succeed").not.toBe(0);
      const killed =
        hog.exitCode === 137 || hog.signal === "SIGKILL" || hog.limitExceeded === "memory";
      expect(killed, `the hog was killed (exit ${hog.exitCode}, ${hog.stderr.trim()})`).toBe(true);
      // Its cause says so, with the limit it hit where the host can read it.
      if (ctx.reportsCause("memory")) {
        expect(hog.cause.kind, JSON.stringify(hog.cause)).toBe("memory");
        if (hog.cause.limit !== undefined) expect(hog.cause.limit).toBe(limit);
      }
    }
    const { state } = await ctx.provider.getSession(id);
    expect(["running", "failed"]).toContain(state);
    if (state === "running") {
      const after = await ctx.provider.exec(id, ["echo", "still here"], {
        timeoutMs: ctx.ms(30_000),
      });
      expect(after, "a running session still runs commands after the kill").toMatchObject({
        stdout: "still here\n",
        timedOut: false,
      });
    }
  },

  async cpu(ctx) {
    const cores = clampToLimits(ctx, "cpu", 0.5);
    const id = await ctx.start({ cpu: cores });
    const script = [
      "cat /sys/fs/cgroup/cpu.max 2>/dev/null",
      "echo ---",
      "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null",
      "echo ---",
      "nproc",
    ].join("; ");
    const { stdout } = await ctx.provider.exec(id, ["sh", "-c", script]);
    const [v2 = "", v1 = "", nproc = ""] = stdout.split("---\n");
    const quota = quotaRatio(v2, v1);
    if (quota !== undefined) {
      expect(quota, `cgroup CPU quota ${quota} cores, asked for ${cores}`).toBeGreaterThan(
        cores * 0.9 - 0.01,
      );
      expect(quota).toBeLessThan(cores * 1.1 + 0.01);
    } else {
      // No cgroup quota visible (a VM): the guest's CPU count must reflect the request.
      const count = Number(nproc.trim());
      expect(count, `no cgroup quota visible and nproc says ${nproc.trim()}`).toBeLessThanOrEqual(
        Math.max(1, Math.ceil(cores)),
      );
    }
  },

  async networkIsolation(ctx) {
    const id = await ctx.start({ networkIsolation: true });
    const dev = await ctx.provider.exec(id, ["cat", "/proc/net/dev"]);
    expect(dev.exitCode).toBe(0);
    const interfaces = dev.stdout
      .split("\n")
      .filter((line) => /^\s*[^\s|]+:/.test(line))
      .map((line) => line.split(":")[0]!.trim());
    expect(interfaces, "only loopback in /proc/net/dev").toEqual(["lo"]);
    const sys = await ctx.provider.exec(id, ["sh", "-c", "ls /sys/class/net 2>/dev/null; true"]);
    const sysInterfaces = sys.stdout.split(/\s+/).filter(Boolean);
    if (sysInterfaces.length > 0) expect(sysInterfaces, "only loopback in sysfs").toEqual(["lo"]);
    const routes = await ctx.provider.exec(id, [
      "sh",
      "-c",
      "cat /proc/net/route 2>/dev/null; true",
    ]);
    const routeLines = routes.stdout.split("\n").filter((l) => l.trim() && !l.startsWith("Iface"));
    expect(routeLines, "no route in /proc/net/route").toEqual([]);
    const connect = await ctx.provider.exec(
      id,
      ["wget", "-q", "-T", "3", "-O", "/dev/null", "http://1.1.1.1/"],
      { timeoutMs: ctx.ms(30_000) },
    );
    expect(connect.exitCode, "a connection out must fail").not.toBe(0);
  },

  async readOnlyRootfs(ctx) {
    const id = await ctx.start({ readOnlyRootfs: true });
    const name = ctx.token("ro");
    for (const path of [`/${name}`, `/bin/${name}`, `/etc/${name}`]) {
      const touch = await ctx.provider.exec(id, ["touch", path]);
      expect(touch.exitCode, `touch ${path} must fail on a read-only root`).not.toBe(0);
    }
    const scratch = await ctx.provider.exec(id, [
      "sh",
      "-c",
      `echo x > /tmp/${name} && cat /tmp/${name} && rm /tmp/${name}`,
    ]);
    expect(scratch, "/tmp stays writable").toMatchObject({ exitCode: 0, stdout: "x\n" });
  },

  async pids(ctx) {
    const limit = clampToLimits(ctx, "pids", 32);
    const id = await ctx.start({ pids: limit });
    const attempts = limit + 16;
    const result = await ctx.provider.exec(
      id,
      forkProbeArgv(attempts, `/tmp/${ctx.token("fork")}`),
      {
        timeoutMs: ctx.ms(60_000),
      },
    );
    const match = /reached (\d+)/.exec(result.stdout);
    expect(
      match,
      `the fork probe reported its count: ${result.stdout} ${result.stderr}`,
    ).not.toBeNull();
    const reached = Number(match![1]);
    expect(reached, "the probe started at least one process").toBeGreaterThan(0);
    expect(reached, `processes started with pids=${limit}`).toBeLessThanOrEqual(limit);
    // It handled the refused forks and succeeded: it ended on its own.
    expect(result.cause.kind).toBe("exited");

    // One that fails on a refused fork was ended by the limit, and says which.
    const bomb = await ctx.provider.exec(id, forkBombArgv(attempts), { timeoutMs: ctx.ms(60_000) });
    expect(bomb.exitCode, `the bomb failed: ${bomb.stderr}`).not.toBe(0);
    if (ctx.reportsCause("pids")) {
      expect(bomb.cause.kind, JSON.stringify(bomb.cause)).toBe("pids");
      if (bomb.cause.limit !== undefined) expect(bomb.cause.limit).toBe(limit);
    }
  },

  async image(ctx) {
    const id = await ctx.start({ image: requestValue(ctx, "image") });
    const result = await ctx.provider.exec(id, ["sh", "-c", "echo image-ok"]);
    expect(result.stdout).toBe("image-ok\n");
  },

  async env(ctx) {
    const value = "spaces, ; $HOME 'quotes' \"double\" ünïcödé";
    const id = await ctx.start({ env: { CADRE_ENV_PROBE: value } });
    const result = await ctx.provider.exec(id, ["sh", "-c", 'printf "%s" "$CADRE_ENV_PROBE"']);
    expect(result.stdout).toBe(value);
  },

  async workdir(ctx) {
    const dir = ctx.token("workdir");
    const id = await ctx.start({ workdir: `/tmp/${dir}` });
    const result = await ctx.provider.exec(id, ["sh", "-c", "pwd"]);
    expect(result.exitCode, `workdir /tmp/${dir} exists at start: ${result.stderr}`).toBe(0);
    expect(result.stdout.endsWith(`/tmp/${dir}\n`), `pwd printed ${result.stdout}`).toBe(true);
    const override = await ctx.provider.exec(id, ["sh", "-c", "pwd"], { cwd: "/" });
    expect(override.stdout, "exec cwd wins over policy.workdir").not.toContain(dir);
  },

  async user(ctx) {
    const id = await ctx.start({ user: "1000:1000" });
    const result = await ctx.provider.exec(id, ["sh", "-c", "id -u; id -g"]);
    expect(result.stdout).toBe("1000\n1000\n");
  },

  async labels(ctx) {
    const labels = {
      [testLabelKey]: ctx.token("labels"),
      "example.com/text": "spaces, punctuation: = / and ünïcödé",
    };
    const id = await ctx.start({ labels });
    expect((await ctx.provider.getSession(id)).labels).toMatchObject(labels);
    const listed = await ctx.provider.listSessions({ labels });
    expect(listed.map((s) => s.id)).toEqual([id]);
  },

  async ttlMs(ctx) {
    // The TTL counts from the session's created-at, before its sandbox is made: on a loaded host a
    // short one runs out during the start itself, and the session is gone before getSession can
    // read it. So the TTL is a few times what a start takes here and now.
    const began = performance.now();
    await ctx.destroy(await ctx.start());
    const startMs = performance.now() - began;
    const ttl = clampToLimits(ctx, "ttlMs", Math.max(ctx.ms(1_500), Math.ceil(startMs * 4)));
    const labels = { [testLabelKey]: ctx.token("ttl") };
    const id = await ctx.start({ ttlMs: ttl, labels });
    const info = await ctx.provider.getSession(id);
    expect(info.expiresAt, "getSession reports expiresAt").toBeDefined();
    const lifetime = Date.parse(info.expiresAt!) - Date.parse(info.createdAt);
    expect(Math.abs(lifetime - ttl), "expiresAt is createdAt + ttlMs").toBeLessThanOrEqual(1_000);
    // Gone for callers, and gone from the backend: both may take a moment after the deadline.
    await waitUntil(
      `session ${id} to be destroyed by its ttlMs`,
      async () => !(await sessionLives(ctx, id)) && (await ctx.leftovers(labels)).length === 0,
      ttl + ctx.ms(30_000),
    );
    expect(await ctx.listedIds(labels)).toEqual([]);
    await expectEnded(ctx, id, { kind: "ttl", limit: ttl });
  },
};

/** Quota in cores from cgroup v2's cpu.max or v1's quota and period; undefined when unlimited. */
function quotaRatio(v2: string, v1: string): number | undefined {
  const [quota, period] = v2.trim().split(/\s+/);
  if (quota && period && quota !== "max") return Number(quota) / Number(period);
  const [q1, p1] = v1.trim().split(/\s+/).map(Number);
  if (q1 !== undefined && p1 && q1 > 0) return q1 / p1;
  return undefined;
}

/** The field is not enforced: asking for it is refused, naming exactly it, and creates nothing. */
async function expectFieldRefused(ctx: ConformanceContext, field: PolicyField, value: unknown) {
  const error = await expectStartRefused(
    ctx,
    ctx.policy({ [field]: value }),
    "CAPABILITY_MISMATCH",
  );
  expect(unsupportedOf(error), `unsupportedPolicies when asking for ${field}`).toEqual([field]);
}

/** A session on an image that does not exist fails with a typed error and leaves nothing. */
async function expectMissingImageFails(ctx: ConformanceContext, image: string): Promise<void> {
  const labels = { [testLabelKey]: ctx.token("image") };
  const attempt = ctx.provider.startSession(ctx.policy({ image, labels })).then((id) => {
    ctx.track(id);
    return id;
  });
  let error: unknown;
  await attempt.catch((e: unknown) => {
    error = e;
  });
  expect(AgentRuntimeError.isInstance(error), `a typed error, got ${String(error)}`).toBe(true);
  expect(await ctx.listedIds(labels)).toEqual([]);
  expect(await ctx.leftovers(labels)).toEqual([]);
}

export function registerEnforcement(ctx: ConformanceContext): void {
  describe("enforcement", () => {
    const timeout = () => ctx.ms(120_000);
    const fields = policyFields.filter((f): f is ProbedField => f !== "minimumIsolation");

    for (const field of fields) {
      it(
        names.field(field),
        async () => {
          if (ctx.enforced(field)) await probes[field](ctx);
          else await expectFieldRefused(ctx, field, requestValue(ctx, field));
        },
        timeout(),
      );
    }

    it(
      names.missingImage,
      async () => {
        const image = `cadre-conformance/no-such-image:${ctx.token("tag")}`;
        if (ctx.enforced("image")) await expectMissingImageFails(ctx, image);
        else await expectFieldRefused(ctx, "image", image);
      },
      timeout(),
    );
  });
}
