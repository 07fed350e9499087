/**
 * A failure of the command itself that is no provider's typed error (a local file in the way, a
 * hostile archive, a session the search did not find): printed as one line, its code first when
 * it has one, with what to do next.
 */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}
