import { runDockerConformance } from "./conformance-run.js";
import { podmanRootless } from "./test-engines.js";

await runDockerConformance("crun", podmanRootless);
