import { runDockerConformance } from "./conformance-run.js";

await runDockerConformance("runc", "agent");
