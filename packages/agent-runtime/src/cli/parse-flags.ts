import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./usage-error.js";

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** util.parseArgs with its errors turned into usage errors for this command. */
export function parseFlags<T extends FlagSpec>(
  args: string[],
  options: T,
  command: string,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // parseArgs' messages carry a multi-line suggestion; the first sentence is the useful part.
    throw new UsageError(message.split("\n")[0]!.replace(/\. To specify.*$/, ""), command);
  }
}
