import { afterAll } from "vitest";
import { privateContainerdMissing, startPrivateContainerd } from "./support/private-containerd.js";

// The same containerd client and spec, with runc's shim under its own name, on a containerd of
// this file's own: the suite restarts it under a session, which must run on (the shim holds it).
// containerd-env reads the address when it is first imported, below.
const missing = privateContainerdMissing();
const engine = missing
  ? undefined
  : await startPrivateContainerd({ namespace: "cadre", image: "docker.io/cadre-test/busybox:1" });
if (engine) process.env.CADRE_CONTAINERD_ADDRESS = engine.address;
afterAll(() => engine?.stop());

const { runKataConformance } = await import("./support/conformance-run.js");
await runKataConformance(
  "kata provider (io.containerd.runc.v2, a containerd of its own)",
  "runc",
  1,
  engine ? { restartEngine: { restart: engine.restart, sessionsSurvive: true } } : {},
);
