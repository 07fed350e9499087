import { afterAll } from "vitest";
import { runEngineConformance } from "./engine-conformance.js";
import { remoteEngineMissing, startRemoteEngine } from "./remote-engine.js";

// A dockerd of the test's own, reached over TLS as a remote daemon (remote-engine.ts).
const missing = remoteEngineMissing();
const remote = missing ? undefined : await startRemoteEngine({ ssh: false });
afterAll(() => remote?.stop());

await runEngineConformance(remote?.tls ?? { name: "remote over TLS", options: {}, missing });
