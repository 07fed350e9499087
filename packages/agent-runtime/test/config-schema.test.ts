import { PolicyValidationError } from "@cadre/agent-runtime-contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIsolationConfig } from "../src/config/parse.js";

function issuesOf(value: unknown): Array<{ path: string; message: string }> {
  try {
    parseIsolationConfig(value);
  } catch (error) {
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    return (error as PolicyValidationError).issues;
  }
  throw new Error("expected the config to be rejected");
}

/** The distinct bad paths (one value can break several rules of its field). */
function pathsOf(value: unknown): string[] {
  return [...new Set(issuesOf(value).map((i) => i.path))];
}

describe("isolation config schema", () => {
  it("accepts every provider with its options", () => {
    expect(
      parseIsolationConfig({
        provider: "docker",
        docker: { socketPath: "/var/run/docker.sock", runtime: "runsc", image: "busybox:1" },
      }),
    ).toEqual({
      provider: "docker",
      docker: { socketPath: "/var/run/docker.sock", runtime: "runsc", image: "busybox:1" },
    });
    expect(
      parseIsolationConfig({
        provider: "kata",
        kata: {
          address: "/run/containerd/containerd.sock",
          namespace: "cadre",
          runtime: "io.containerd.kata.v2",
          runtimeOptions: { ConfigPath: "/etc/kata/configuration.toml" },
          fifoDir: "/run/cadre/kata",
          shimSearchPath: ["/usr/local/bin"],
          runtimePath: "/usr/bin/kata-runtime",
          image: "docker.io/library/busybox:1",
          unsafeUseStandInShim: false,
        },
      }).provider,
    ).toBe("kata");
    expect(
      parseIsolationConfig({
        provider: "stub",
        stub: { acknowledgeNoIsolation: true, stateDir: "/tmp/x", enforcement: "advisory" },
      }).stub?.enforcement,
    ).toBe("advisory");
    expect(
      parseIsolationConfig({ provider: "docker", docker: { host: "10.0.0.2", port: 2375 } }),
    ).toBeTruthy();
  });

  it("names unknown keys by their full JSON path", () => {
    expect(pathsOf({ provider: "docker", dockr: {} })).toEqual(["isolation.dockr"]);
    expect(pathsOf({ provider: "docker", docker: { runtim: "runc" } })).toEqual([
      "isolation.docker.runtim",
    ]);
    expect(pathsOf({ provider: "kata", kata: { runtimepath: "/x" } })).toEqual([
      "isolation.kata.runtimepath",
    ]);
  });

  it("names bad values by their full JSON path, all at once", () => {
    const paths = pathsOf({
      provider: "docker",
      docker: { runtime: "kata", port: 70000, host: "h", socketPath: "relative" },
      kata: { namespace: "bad namespace!", unsafeUseStandInShim: "yes" },
    });
    expect(paths).toEqual(
      expect.arrayContaining([
        "isolation.docker.runtime",
        "isolation.docker.port",
        "isolation.docker.socketPath",
        "isolation.kata.namespace",
        "isolation.kata.unsafeUseStandInShim",
      ]),
    );
    expect(pathsOf({ provider: "firecracker" })).toEqual(["isolation.provider"]);
    expect(pathsOf({})).toEqual(["isolation.provider"]);
  });

  it("rejects contradictory docker endpoints", () => {
    expect(pathsOf({ provider: "docker", docker: { socketPath: "/s", host: "h" } })).toEqual([
      "isolation.docker.host",
    ]);
    expect(pathsOf({ provider: "docker", docker: { port: 2375 } })).toEqual([
      "isolation.docker.port",
    ]);
  });

  it("requires the explicit acknowledgement to choose the stub", () => {
    for (const stub of [undefined, {}, { acknowledgeNoIsolation: false }]) {
      const issues = issuesOf({ provider: "stub", stub });
      expect(issues.map((i) => i.path)).toEqual(["isolation.stub.acknowledgeNoIsolation"]);
    }
    const [issue] = issuesOf({ provider: "stub" });
    expect(issue?.message).toMatch(/no isolation/);
    // A stub section that is not chosen needs no acknowledgement.
    expect(parseIsolationConfig({ provider: "docker", stub: {} }).provider).toBe("docker");
  });

  it("puts the paths in the error message too", () => {
    expect(() => parseIsolationConfig({ provider: "docker", docker: { runtime: 1 } })).toThrow(
      /isolation\.docker\.runtime/,
    );
  });

  it("never accepts a non-object section, whatever its value (fuzzed)", () => {
    const nonObject = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.anything()),
    );
    fc.assert(
      fc.property(fc.constantFrom("stub", "docker", "kata"), nonObject, (section, value) => {
        const provider = section === "stub" ? "docker" : section;
        expect(pathsOf({ provider, [section]: value })).toContain(`isolation.${section}`);
      }),
    );
  });

  it("rejects a value of the wrong type in any field, naming that field (fuzzed)", () => {
    const stringFields: Array<[section: "stub" | "docker" | "kata", key: string]> = [
      ["docker", "runtime"],
      ["docker", "image"],
      ["docker", "labelPrefix"],
      ["docker", "socketPath"],
      ["docker", "host"],
      ["kata", "address"],
      ["kata", "namespace"],
      ["kata", "runtime"],
      ["kata", "runtimePath"],
      ["kata", "image"],
      ["stub", "enforcement"],
      ["stub", "stateDir"],
    ];
    const notAString = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string()),
      fc.dictionary(fc.string(), fc.string()),
    );
    fc.assert(
      fc.property(fc.constantFrom(...stringFields), notAString, ([section, key], value) => {
        const options = section === "stub" ? { acknowledgeNoIsolation: true } : {};
        const config = { provider: section, [section]: { ...options, [key]: value } };
        expect(pathsOf(config)).toEqual([`isolation.${section}.${key}`]);
      }),
    );
  });

  it("rejects white space, NUL and relative paths where they do not belong (fuzzed)", () => {
    const withSpace = fc
      .tuple(fc.string(), fc.constantFrom(" ", "\t", "\n", "\0"), fc.string())
      .map(([a, ws, b]) => `${a}${ws}${b}`);
    fc.assert(
      fc.property(fc.constantFrom("image", "labelPrefix", "host"), withSpace, (key, value) => {
        expect(pathsOf({ provider: "docker", docker: { [key]: value } })).toEqual([
          `isolation.docker.${key}`,
        ]);
      }),
    );
    fc.assert(
      fc.property(
        fc.string().filter((s) => !s.startsWith("/")),
        (path) => {
          expect(pathsOf({ provider: "kata", kata: { runtimePath: path } })).toEqual([
            "isolation.kata.runtimePath",
          ]);
        },
      ),
    );
  });

  it("rejects any unknown key in any section (fuzzed)", () => {
    const known = new Set([
      "acknowledgeNoIsolation",
      "stateDir",
      "enforcement",
      "socketPath",
      "host",
      "port",
      "runtime",
      "image",
      "labelPrefix",
      "address",
      "namespace",
      "runtimeOptions",
      "runtimePath",
      "unsafeUseStandInShim",
      "__proto__",
    ]);
    fc.assert(
      fc.property(
        fc.constantFrom("docker", "kata"),
        fc.string({ minLength: 1 }).filter((k) => !known.has(k)),
        (section, key) => {
          const config = { provider: section, [section]: { [key]: "x" } };
          expect(pathsOf(config)).toEqual([`isolation.${section}.${key}`]);
        },
      ),
    );
  });

  it("accepts every combination of valid values (fuzzed)", () => {
    const docker = fc.record(
      {
        runtime: fc.constantFrom("runc", "runsc"),
        image: fc.stringMatching(/^[a-z0-9][a-z0-9./:-]{0,40}$/),
        labelPrefix: fc.stringMatching(/^[a-z][a-z0-9.]{0,20}$/),
        socketPath: fc.stringMatching(/^\/[a-z0-9/._-]{1,60}$/),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(docker, (options) => {
        expect(parseIsolationConfig({ provider: "docker", docker: options }).docker).toEqual(
          options,
        );
      }),
    );
  });
});
