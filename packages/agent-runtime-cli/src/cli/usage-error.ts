/** A mistake on the command line: exit code 2 and a one-line hint. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }

  get hint(): string {
    return this.command
      ? `Run "cadre-runtime ${this.command} --help" for usage.`
      : 'Run "cadre-runtime --help" for usage.';
  }
}
