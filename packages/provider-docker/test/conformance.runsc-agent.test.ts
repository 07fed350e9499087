import { runDockerConformance } from "./conformance-run.js";

await runDockerConformance("runsc", "agent");
