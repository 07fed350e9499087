import { runDockerConformance } from "./conformance-run.js";
import { podmanRootful } from "./test-engines.js";

await runDockerConformance("crun", podmanRootful);
