import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./usage-error.js";

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

export type ParsedFlags<T extends FlagSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>
>;

/** util.parseArgs with its errors turned into usage errors for this command. */
export function parseFlags<T extends FlagSpec>(
  args: string[],
  options: T,
  command: string,
  allowPositionals = false,
): ParsedFlags<T> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // parseArgs' messages carry a multi-line suggestion; the first sentence is the useful part.
    throw new UsageError(message.split("\n")[0]!.replace(/\. To specify.*$/, ""), command);
  }
}
