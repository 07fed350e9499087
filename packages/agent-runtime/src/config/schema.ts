import { z } from "zod";

/** The providers createProvider() can build, in the order `doctor` lists them. */
export const providerNames = ["stub", "docker", "kata"] as const;
export type ProviderName = (typeof providerNames)[number];

const noWhiteSpace = (s: string) => !/\s/.test(s) && !s.includes("\0");

const absolutePath = z
  .string()
  .min(2)
  .max(4096)
  .refine((p) => p.startsWith("/") && !p.includes("\0"), { message: "must be an absolute path" });

const imageReference = z
  .string()
  .min(1)
  .max(512)
  .refine(noWhiteSpace, { message: "must be an image reference without white space" });

export const stubConfigSchema = z
  .strictObject({
    acknowledgeNoIsolation: z
      .literal(true, { message: "must be true: the stub runs commands on the host, unisolated" })
      .optional()
      .describe(
        'Required (and must be `true`) when `provider` is `"stub"`: the stub runs every command as a plain host process, with no isolation at all.',
      ),
    stateDir: absolutePath
      .optional()
      .describe(
        "Directory for the stub's session records and scratch directories. Default: `$XDG_STATE_HOME/cadre-stub`, else `~/.local/state/cadre-stub` (the command line uses the same).",
      ),
    enforcement: z
      .enum(["strict", "advisory"])
      .optional()
      .describe(
        "`strict` (default) rejects limits the stub cannot enforce with CAPABILITY_MISMATCH; `advisory` records them instead (for unit tests of cadre core).",
      ),
  })
  .describe("Options of the stub provider (`@cadre/agent-runtime-provider-stub`).");

export const dockerConfigSchema = z
  .strictObject({
    socketPath: absolutePath
      .optional()
      .describe(
        "Unix socket of the Docker Engine API. Default: `DOCKER_HOST`, else `/var/run/docker.sock`.",
      ),
    host: z
      .string()
      .min(1)
      .max(253)
      .refine(noWhiteSpace, { message: "must be a host name or address without white space" })
      .optional()
      .describe("TCP host of the Docker Engine API, instead of `socketPath`."),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe("TCP port of the Docker Engine API; only with `host`."),
    runtime: z
      .enum(["runc", "runsc"])
      .optional()
      .describe(
        "OCI runtime of the containers: `runc` (isolation `container`) or `runsc` (gVisor, isolation `user-kernel`).",
      ),
    image: imageReference.optional().describe("Image of sessions whose policy names none."),
    labelPrefix: z
      .string()
      .min(1)
      .max(128)
      .refine(noWhiteSpace, { message: "must not contain white space" })
      .optional()
      .describe("Prefix of the labels the provider writes on its containers."),
    sessionNetwork: z
      .strictObject({
        name: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/)
          .optional()
          .describe(
            'Name of the Docker network of sessions without `networkIsolation`. Default `"cadre-sessions"`.',
          ),
        bridge: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,15}$/)
          .optional()
          .describe(
            'Name of its Linux bridge, which the host rules name (at most 15 characters). Default `"cadre0"`.',
          ),
        hostGuard: z
          .enum(["provider", "external"])
          .optional()
          .describe(
            '`"provider"` (default): the provider checks the host rules before each such session and adds missing ones as root, else refuses the session. `"external"`: the operator keeps them in place (see docs/providers/docker.md).',
          ),
      })
      .optional()
      .describe("The network of sessions that do not ask for `networkIsolation`."),
  })
  .superRefine((docker, ctx) => {
    if (docker.socketPath !== undefined && docker.host !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["host"],
        message: "set either socketPath or host (with port), not both",
      });
    }
    if (docker.port !== undefined && docker.host === undefined) {
      ctx.addIssue({ code: "custom", path: ["port"], message: "port needs host" });
    }
  })
  .describe("Options of the Docker provider (`@cadre/agent-runtime-provider-docker`).");

export const kataConfigSchema = z
  .strictObject({
    address: z
      .string()
      .min(1)
      .max(4096)
      .refine(noWhiteSpace, { message: "must not contain white space" })
      .optional()
      .describe("containerd's gRPC socket. Default: `/run/containerd/containerd.sock`."),
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,74}[A-Za-z0-9])?$/, {
        message:
          "containerd namespaces are 1-76 of A-Z a-z 0-9 . _ -, starting and ending alphanumeric",
      })
      .optional()
      .describe("containerd namespace of the sessions. Default: `cadre`."),
    runtime: z
      .string()
      .min(1)
      .max(256)
      .refine(noWhiteSpace, { message: "must not contain white space" })
      .optional()
      .describe("containerd runtime name. Default: `io.containerd.kata.v2`."),
    runtimeOptions: z
      .strictObject({
        BinaryName: absolutePath.optional().describe("runc-family shims: the OCI runtime binary."),
        Root: absolutePath.optional().describe("runc-family shims: the runtime's state directory."),
        SystemdCgroup: z
          .boolean()
          .optional()
          .describe("runc-family shims: cgroups through systemd."),
        ConfigPath: absolutePath.optional().describe("Kata's shim: its configuration.toml."),
      })
      .optional()
      .describe(
        'Options passed to the runtime\'s shim, e.g. `{ "ConfigPath": "/etc/kata/configuration.toml" }`.',
      ),
    runtimePath: absolutePath
      .optional()
      .describe("Path of `kata-runtime`; when set, `doctor` runs `kata-runtime check` with it."),
    image: imageReference.optional().describe("Image of sessions whose policy names none."),
    fifoDir: absolutePath
      .optional()
      .describe("Directory of the per-session stdio FIFOs. Default: `/run/cadre/kata`."),
    snapshotter: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { message: "must be a containerd snapshotter name" })
      .optional()
      .describe("containerd snapshotter of the session root filesystems. Default: `overlayfs`."),
    cgroupParent: absolutePath
      .optional()
      .describe("cgroup under which each session's cgroup is created. Default: `/cadre`."),
    shimSearchPath: z
      .array(absolutePath)
      .max(64)
      .optional()
      .describe("Where `doctor` looks for the shim binary. Default: containerd's own PATH."),
    unsafeUseStandInShim: z
      .boolean()
      .optional()
      .describe(
        "TEST ONLY. Accept a shim registered under Kata's name that is not Kata (runc's shim, no VM). `doctor` reports it loudly. Never set this in production.",
      ),
  })
  .describe("Options of the Kata provider (`@cadre/agent-runtime-provider-kata`).");

export const poolConfigSchema = z
  .strictObject({
    size: z.number().int().min(1).max(64).describe("Warm sessions kept per policy."),
    maxPolicies: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe(
        "Distinct policies kept warm; the least recently used is dropped beyond. Default 4.",
      ),
  })
  .describe(
    "Keep started sessions warm (a `SessionPool` around the provider) so that `startSession` hands one out at once. See docs/session-pool.md.",
  );

export const isolationConfigSchema = z
  .strictObject({
    provider: z.enum(providerNames).describe("The provider cadre uses."),
    stub: stubConfigSchema.optional(),
    docker: dockerConfigSchema.optional(),
    kata: kataConfigSchema.optional(),
    pool: poolConfigSchema.optional(),
  })
  .superRefine((config, ctx) => {
    if (config.provider === "stub" && config.stub?.acknowledgeNoIsolation !== true) {
      ctx.addIssue({
        code: "custom",
        path: ["stub", "acknowledgeNoIsolation"],
        message:
          'the stub gives no isolation: commands run on the host. Set "stub": { "acknowledgeNoIsolation": true } to choose it anyway, or choose "docker" or "kata"',
      });
    }
  })
  .describe(
    "The `isolation` section of cadre.config.json: which provider runs sessions, and its options. Sections of providers other than `provider` are validated and otherwise ignored.",
  );

export type IsolationConfig = z.input<typeof isolationConfigSchema>;
export type StubConfig = z.input<typeof stubConfigSchema>;
export type DockerConfig = z.input<typeof dockerConfigSchema>;
export type KataConfig = z.input<typeof kataConfigSchema>;
