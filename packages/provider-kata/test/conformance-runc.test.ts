import { runKataConformance } from "./support/conformance-run.js";

// The same containerd client and spec, with runc's shim under its own name.
await runKataConformance("kata provider (io.containerd.runc.v2)", "runc");
