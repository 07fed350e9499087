import {
  absolutePathOption,
  imageReferenceOption,
  sessionEndRetentionOption,
  withoutWhiteSpace,
} from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";

/** The OCI runtimes the provider runs sessions on (docs/providers/docker.md). */
export const dockerRuntimes = ["runc", "runsc", "crun"] as const;
export type DockerRuntime = (typeof dockerRuntimes)[number];

const userName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, { message: "must be a user name" });

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
        "Host of a remote Docker Engine API, instead of `socketPath`: spoken to over TLS with `tls`, over SSH with `ssh`, and over plain TCP only with `insecure: true`.",
      ),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe("Port of `host`. Default: 2376 with `tls`, 22 with `ssh`, 2375 with `insecure`."),
    tls: z
      .strictObject({
        ca: absolutePathOption.describe("PEM file of the CA that signed the daemon's certificate."),
        cert: absolutePathOption.describe("PEM file of this client's certificate."),
        key: absolutePathOption.describe("PEM file of this client's private key."),
      })
      .optional()
      .describe(
        "TLS with client certificates to `host` (or to a `tcp://` DOCKER_HOST); the daemon's certificate is verified against `ca`. Default from the environment: DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH's ca.pem, cert.pem and key.pem.",
      ),
    ssh: z
      .strictObject({
        user: userName
          .optional()
          .describe(
            "User on `host`. Default: the user of an `ssh://` DOCKER_HOST, else this process's user, as `ssh` does.",
          ),
        privateKey: absolutePathOption
          .optional()
          .describe(
            "This client's private key file (unencrypted). Default: the agent at SSH_AUTH_SOCK.",
          ),
        knownHosts: absolutePathOption
          .optional()
          .describe(
            "known_hosts file that must list `host`'s key (plain or hashed entries); an unknown key is refused. Default: `~/.ssh/known_hosts`.",
          ),
      })
      .optional()
      .describe(
        "SSH to `host` (or to an `ssh://` DOCKER_HOST), which runs `docker system dial-stdio` there: dockerode's SSH support.",
      ),
    insecure: z
      .boolean()
      .optional()
      .describe(
        "`true` allows plain TCP without TLS (`host` without `tls`, or a `tcp://` DOCKER_HOST without DOCKER_TLS_VERIFY): anyone on the path can run containers as the daemon. `doctor` reports it as a failed check. Refused without it.",
      ),
    runtime: z
      .enum(dockerRuntimes)
      .optional()
      .describe(
        "OCI runtime of the containers: `runc` or `crun` (isolation `container`), or `runsc` (gVisor, isolation `user-kernel`). It must be registered with the daemon; Podman runs only its default runtime.",
      ),
    sessionEndRetentionMs: sessionEndRetentionOption.optional(),
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
    const issue = (path: string, message: string) =>
      ctx.addIssue({ code: "custom", path: [path], message });
    if (docker.socketPath !== undefined && docker.host !== undefined) {
      issue("host", "set either socketPath or host (with port), not both");
    }
    if (docker.port !== undefined && docker.host === undefined) issue("port", "port needs host");
    if (docker.socketPath !== undefined) {
      for (const key of ["tls", "ssh", "insecure"] as const) {
        if (docker[key] !== undefined) issue(key, `${key} is for a remote daemon, not socketPath`);
      }
    }
    if (docker.tls !== undefined && docker.ssh !== undefined) {
      issue("ssh", "set either tls or ssh, not both");
    }
    if (docker.insecure === true && (docker.tls !== undefined || docker.ssh !== undefined)) {
      issue("insecure", "insecure is plain TCP; it goes with neither tls nor ssh");
    }
  })
  .describe(
    "Options of the Docker provider (`@cadre/agent-runtime-provider-docker`), for Docker Engine or Podman's Docker-compatible API. `socketPath` and `host` exclude each other; `port` needs `host`; `tls`, `ssh` and `insecure` exclude each other.",
  );

/**
 * `socketPath` (default DOCKER_HOST, else /var/run/docker.sock) or `host` with `port` and `tls`,
 * `ssh` or `insecure`: the daemon (connection.ts). `runtime`: "runc" (default), "crun" or "runsc" (gVisor). `image`: of sessions whose policy names
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
