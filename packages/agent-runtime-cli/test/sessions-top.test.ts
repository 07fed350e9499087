import { describe, expect, it } from "vitest";
import { formatTop, rowOf } from "../src/cli/sessions-top.js";

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();

describe("sessions top's reading", () => {
  it("gives CPU use from the second reading on, as CPU time over wall time", () => {
    const first = rowOf("docker", { sessionId: "cadre-a", at: at(0), cpuSeconds: 1 });
    expect(first.cpuPercent).toBeUndefined();
    const second = rowOf("docker", { sessionId: "cadre-a", at: at(2_000), cpuSeconds: 2 }, first);
    expect(second.cpuPercent).toBeCloseTo(50);
  });

  it("gives no CPU use when a counter went back (another session under the same id) or is missing", () => {
    const before = rowOf("docker", { sessionId: "cadre-a", at: at(0), cpuSeconds: 5 });
    expect(
      rowOf("docker", { sessionId: "cadre-a", at: at(1_000), cpuSeconds: 1 }, before).cpuPercent,
    ).toBeUndefined();
    expect(
      rowOf("stub", { sessionId: "cadre-a", at: at(1_000) }, before).cpuPercent,
    ).toBeUndefined();
    expect(
      rowOf("docker", { sessionId: "cadre-a", at: at(0), cpuSeconds: 6 }, before).cpuPercent,
    ).toBeUndefined();
  });

  it("prints a line per session with units, and - where the provider cannot tell", () => {
    const text = formatTop([
      {
        providerId: "docker",
        cpuPercent: 12.345,
        stats: {
          sessionId: "cadre-0123456789abcdef",
          at: at(0),
          cpuSeconds: 3.5,
          memoryBytes: 5 * 1024 * 1024,
          peakMemoryBytes: 1536,
          memoryLimitBytes: 2 * 1024 ** 3,
          pids: 3,
          pidsLimit: 64,
          diskBytes: 512,
        },
      },
      { providerId: "stub", stats: { sessionId: "cadre-fedcba9876543210", at: at(0) } },
    ]);
    const [header, docker, stub] = text.trimEnd().split("\n");
    expect(header).toMatch(
      /^ID\s+PROVIDER\s+CPU%\s+CPU TIME\s+MEMORY\s+PEAK\s+LIMIT\s+PIDS\s+DISK$/,
    );
    expect(docker?.split(/\s+/)).toEqual([
      "cadre-0123456789abcdef",
      "docker",
      "12.3",
      "3.50s",
      "5.0MiB",
      "1.5KiB",
      "2.0GiB",
      "3/64",
      "512B",
    ]);
    expect(stub?.split(/\s+/)).toEqual(["cadre-fedcba9876543210", "stub", ...Array(7).fill("-")]);
    expect(formatTop([])).toBe("no running sessions\n");
  });
});
