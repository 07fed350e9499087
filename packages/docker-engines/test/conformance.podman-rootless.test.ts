import { runEngineConformance } from "./engine-conformance.js";
import { podmanRootless } from "./test-engines.js";

await runEngineConformance(podmanRootless);
