import { runDockerConformance } from "./conformance-run.js";

await runDockerConformance("crun");
