import type { BenchTools } from "@cadre/agent-runtime-provider-utils";
import { extractToLocal } from "../../files/extract-local.js";
import { packLocal } from "../../files/pack-local.js";

/** `cadre-runtime cp`'s own tar code on the host, lent to copy baselines (BenchTools). */
export const localTarTools: Pick<BenchTools, "packLocal" | "extractToLocal"> = {
  packLocal: (path, top) => packLocal(path, top).stream,
  extractToLocal: async (tar, dir, name) => {
    await extractToLocal(tar, { parent: dir, name });
  },
};
