import { PolicyValidationError } from "@cadre/agent-runtime-contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIsolationConfig } from "../src/config/parse.js";
import { validateIsolationConfig } from "../src/config/validate.js";

async function issuesOf(value: unknown): Promise<Array<{ path: string; message: string }>> {
  try {
    await validateIsolationConfig(value);
  } catch (error) {
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    return (error as PolicyValidationError).issues;
  }
  throw new Error("expected the config to be rejected");
}

/** The distinct bad paths (one value can break several rules of its field). */
async function pathsOf(value: unknown): Promise<string[]> {
  return [...new Set((await issuesOf(value)).map((i) => i.path))];
}

describe("isolation config schema", () => {
  it("accepts every provider with its options", async () => {
    expect(
      await validateIsolationConfig({
        provider: "docker",
        docker: { socketPath: "/var/run/docker.sock", runtime: "runsc", image: "busybox:1" },
      }),
    ).toEqual({
      provider: "docker",
      docker: { socketPath: "/var/run/docker.sock", runtime: "runsc", image: "busybox:1" },
    });
    expect(
      (
        await validateIsolationConfig({
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
        })
      ).provider,
    ).toBe("kata");
    expect(
      (
        (await validateIsolationConfig({
          provider: "stub",
          stub: { acknowledgeNoIsolation: true, stateDir: "/tmp/x", enforcement: "advisory" },
        })) as { stub?: { enforcement?: string } }
      ).stub?.enforcement,
    ).toBe("advisory");
    expect(
      await validateIsolationConfig({
        provider: "docker",
        docker: { host: "10.0.0.2", port: 2375 },
      }),
    ).toBeTruthy();
  });

  it("names unknown keys by their full JSON path", async () => {
    expect(await pathsOf({ provider: "docker", dockr: {} })).toEqual(["isolation.dockr"]);
    expect(await pathsOf({ provider: "docker", docker: { runtim: "runc" } })).toEqual([
      "isolation.docker.runtim",
    ]);
    expect(await pathsOf({ provider: "kata", kata: { runtimepath: "/x" } })).toEqual([
      "isolation.kata.runtimepath",
    ]);
  });

  it("names bad values by their full JSON path, all at once", async () => {
    const paths = await pathsOf({
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
    expect(await pathsOf({ provider: "firecracker" })).toEqual(["isolation.provider"]);
    expect(await pathsOf({})).toEqual(["isolation.provider"]);
  });

  it("rejects contradictory docker endpoints", async () => {
    expect(await pathsOf({ provider: "docker", docker: { socketPath: "/s", host: "h" } })).toEqual([
      "isolation.docker.host",
    ]);
    expect(await pathsOf({ provider: "docker", docker: { port: 2375 } })).toEqual([
      "isolation.docker.port",
    ]);
  });

  it("requires the explicit acknowledgement to choose the stub", async () => {
    for (const stub of [undefined, {}, { acknowledgeNoIsolation: false }]) {
      const issues = await issuesOf({ provider: "stub", stub });
      expect(issues.map((i) => i.path)).toEqual(["isolation.stub.acknowledgeNoIsolation"]);
    }
    const [issue] = await issuesOf({ provider: "stub" });
    expect(issue?.message).toMatch(/no isolation/);
    // A stub section that is not chosen needs no acknowledgement.
    expect((await validateIsolationConfig({ provider: "docker", stub: {} })).provider).toBe(
      "docker",
    );
  });

  it("puts the paths in the error message too", async () => {
    await expect(
      validateIsolationConfig({ provider: "docker", docker: { runtime: 1 } }),
    ).rejects.toThrow(/isolation\.docker\.runtime/);
  });

  it("never accepts a non-object section, whatever its value (fuzzed)", async () => {
    const nonObject = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.anything()),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("stub", "docker", "kata"),
        nonObject,
        async (section, value) => {
          const provider = section === "stub" ? "docker" : section;
          expect(await pathsOf({ provider, [section]: value })).toContain(`isolation.${section}`);
        },
      ),
    );
  });

  it("rejects a value of the wrong type in any field, naming that field (fuzzed)", async () => {
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
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...stringFields),
        notAString,
        async ([section, key], value) => {
          const options = section === "stub" ? { acknowledgeNoIsolation: true } : {};
          const config = { provider: section, [section]: { ...options, [key]: value } };
          expect(await pathsOf(config)).toEqual([`isolation.${section}.${key}`]);
        },
      ),
    );
  });

  it("rejects white space, NUL and relative paths where they do not belong (fuzzed)", async () => {
    const withSpace = fc
      .tuple(fc.string(), fc.constantFrom(" ", "\t", "\n", "\0"), fc.string())
      .map(([a, ws, b]) => `${a}${ws}${b}`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("image", "labelPrefix", "host"),
        withSpace,
        async (key, value) => {
          expect(await pathsOf({ provider: "docker", docker: { [key]: value } })).toEqual([
            `isolation.docker.${key}`,
          ]);
        },
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.string().filter((s) => !s.startsWith("/")),
        async (path) => {
          expect(await pathsOf({ provider: "kata", kata: { runtimePath: path } })).toEqual([
            "isolation.kata.runtimePath",
          ]);
        },
      ),
    );
  });

  it("rejects any unknown key in any section (fuzzed)", async () => {
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
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("docker", "kata"),
        fc.string({ minLength: 1 }).filter((k) => !known.has(k)),
        async (section, key) => {
          const config = { provider: section, [section]: { [key]: "x" } };
          expect(await pathsOf(config)).toEqual([`isolation.${section}.${key}`]);
        },
      ),
    );
  });

  it("accepts every combination of valid values (fuzzed)", async () => {
    const docker = fc.record(
      {
        runtime: fc.constantFrom("runc", "runsc"),
        image: fc.stringMatching(/^[a-z0-9][a-z0-9./:-]{0,40}$/),
        labelPrefix: fc.stringMatching(/^[a-z][a-z0-9.]{0,20}$/),
        socketPath: fc.stringMatching(/^\/[a-z0-9/._-]{1,60}$/),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(docker, async (options) => {
        expect(
          (await validateIsolationConfig({ provider: "docker", docker: options })).docker,
        ).toEqual(options);
      }),
    );
  });
});

describe("parseIsolationConfig: the generic shape, without loading any provider", () => {
  it("checks the provider id, the pool and that sections are objects, not their contents", () => {
    expect(
      parseIsolationConfig({ provider: "docker", docker: { runtime: "kata" } }).docker,
    ).toEqual({ runtime: "kata" });
    expect(() => parseIsolationConfig({ provider: "docker", pool: { size: 0 } })).toThrow(
      /isolation\.pool\.size/,
    );
    expect(() => parseIsolationConfig({ provider: "docker", docker: "runc" })).toThrow(
      /isolation\.docker:/,
    );
  });
});

describe("validateIsolationConfig with a provider package that cannot be loaded", () => {
  const withoutKata = async (specifier: string) => {
    if (specifier.includes("provider-kata")) {
      throw Object.assign(new Error(`Cannot find package '${specifier}'`), {
        code: "ERR_MODULE_NOT_FOUND",
      });
    }
    return import(specifier);
  };

  it("leaves the section of another provider alone", async () => {
    const config = { provider: "docker", kata: { notAKataOption: 1 } };
    expect(await validateIsolationConfig(config, { importer: withoutKata })).toEqual(config);
  });

  it("refuses it as the chosen provider, naming the package", async () => {
    await expect(
      validateIsolationConfig({ provider: "kata" }, { importer: withoutKata }),
    ).rejects.toMatchObject({ code: "PROVIDER_UNAVAILABLE", providerId: "kata" });
  });
});
