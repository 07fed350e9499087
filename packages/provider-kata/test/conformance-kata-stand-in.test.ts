import { runKataConformance } from "./support/conformance-run.js";

// The Kata code path end to end (runtime io.containerd.kata.v2), through the test-only stand-in
// shim (runc's shim under Kata's name): no VM, so the provider reports isolation "container".
await runKataConformance("kata provider (io.containerd.kata.v2, stand-in shim)", "kata-stand-in");
