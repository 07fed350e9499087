import { absolutePathOption, imageReferenceOption } from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";

/** The section `isolation.mini-docker` of cadre.config.json, and what the provider takes. */
export const miniDockerOptionsSchema = z.strictObject({
  socketPath: absolutePathOption
    .default("/var/run/docker.sock")
    .describe("The Docker Engine's Unix socket"),
  image: imageReferenceOption
    .default("docker.io/library/busybox:latest")
    .describe("Image of sessions whose policy names none"),
});

export type MiniDockerOptions = z.output<typeof miniDockerOptionsSchema>;
