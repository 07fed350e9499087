import {
  absolutePathOption,
  imageReferenceOption,
  withoutWhiteSpace,
} from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";

export type DockerRuntime = "runc" | "runsc";

/**
 * The Docker provider's options: cadre.config.json's `isolation.docker` section and what
 * `new DockerProvider(options)` takes, defined once. The loader validates the section with it,
 * the provider parses its options with it, docs/config-schema.md shows its descriptions.
 */
export const dockerOptionsSchema = z
  .strictObject({
    socketPath: absolutePathOption
      .optional()
      .describe(
        "Unix socket of the Docker Engine API. Default: `DOCKER_HOST`, else `/var/run/docker.sock`.",
      ),
    host: z
      .string()
      .min(1)
      .max(253)
      .refine(withoutWhiteSpace, { message: "must be a host name or address without white space" })
      .optional()
      .describe(
        "TCP host of the Docker Engine API, instead of `socketPath`. Sessions need a daemon on this machine for now (the session agent is mounted from it): `doctor` says so, and `startSession` refuses.",
      ),
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
    image: imageReferenceOption.optional().describe("Image of sessions whose policy names none."),
    labelPrefix: z
      .string()
      .min(1)
      .max(128)
      .refine(withoutWhiteSpace, { message: "must not contain white space" })
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
  .describe(
    "Options of the Docker provider (`@cadre/agent-runtime-provider-docker`). `socketPath` and `host` exclude each other; `port` needs `host`.",
  );

/**
 * `socketPath` (default DOCKER_HOST, else /var/run/docker.sock) or `host` with `port`: the
 * daemon. `runtime`: "runc" (default) or "runsc" (gVisor). `image`: of sessions whose policy names
 * none. `labelPrefix`: in place of the contract's "cadre.agent-runtime/", so that two deployments
 * never see each other's sessions on one daemon. `sessionNetwork`: the bridge of sessions without
 * networkIsolation (docs/providers/docker.md, "Network").
 */
export type DockerProviderOptions = z.input<typeof dockerOptionsSchema>;

/**
 * The network of sessions without networkIsolation. `hostGuard` "provider" (default): the
 * provider checks the host rules before every session that joins it and adds missing ones (as
 * root on the daemon's host, else such sessions are refused); "external": the operator keeps them.
 */
export type SessionNetworkOptions = NonNullable<DockerProviderOptions["sessionNetwork"]>;

export const defaultImage = "cadre-test/busybox:1";
