import { providerIds } from "@cadre/agent-runtime";
import { installedDescriptors } from "./provider-choice.js";

// The parts of the help texts that name providers, read from the registered descriptors, so
// that a provider added to cadre (built in or registered) shows up in them by itself.

const helpWidth = 100;

/** "a, b or c" */
export function oneOf(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(", ")} or ${items.at(-1)}` : items.join("");
}

/** "stub, docker or kata": every provider cadre knows, built in first, then registered. */
export function knownProviders(): string {
  return oneOf(providerIds());
}

/**
 * "docker or kata": the installed providers whose descriptor says what `--runtime` stands for
 * (runtimeOption).
 */
export async function providersWithRuntimes(): Promise<string> {
  const ids = (await installedDescriptors()).filter((d) => d.runtimeOption).map((d) => d.id);
  return ids.length > 0 ? oneOf(ids) : "no installed provider";
}

/** The `--runtime` line of every command's help, its text starting at `column`. */
export async function runtimeOptionHelp(column: number): Promise<string> {
  return optionHelp(
    "    --runtime R",
    column,
    `the runtime, for ${await providersWithRuntimes()} (what each one takes: docs/cli.md)`,
  );
}

/**
 * One option of a help text: `flags` after two spaces, then `text` from `column`, wrapped at
 * 100 characters with the continuation lines starting at the same column.
 */
export function optionHelp(flags: string, column: number, text: string): string {
  const lines: string[] = [];
  let line = `  ${flags}`.padEnd(column);
  let empty = true;
  for (const word of text.split(" ")) {
    if (!empty && line.length + 1 + word.length > helpWidth) {
      lines.push(line);
      line = " ".repeat(column);
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines.join("\n");
}
