import { runKataConformance } from "./support/conformance-run.js";

// gVisor through containerd: runc's shim with BinaryName pointing at a runsc wrapper.
await runKataConformance("kata provider (io.containerd.runc.v2 + runsc)", "runsc", 3);
