import { runEngineConformance } from "./engine-conformance.js";
import { podmanRootful } from "./test-engines.js";

await runEngineConformance(podmanRootful);
