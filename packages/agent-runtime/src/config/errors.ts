import { PolicyValidationError } from "@cadre/agent-runtime-contract";

export interface ConfigFileLocation {
  line: number;
  column: number;
}

/**
 * cadre.config.json cannot be used: missing, unreadable, not JSON, or without an `isolation`
 * object. Code POLICY_INVALID (the input has the wrong shape); `filePath` names the file and,
 * for a syntax error, `location` the line and column.
 */
export class ConfigFileError extends PolicyValidationError {
  readonly filePath: string;
  readonly location: ConfigFileLocation | undefined;

  constructor(
    filePath: string,
    problem: string,
    next: string,
    options: { location?: ConfigFileLocation; cause?: unknown } = {},
  ) {
    const where = options.location
      ? `${filePath}:${options.location.line}:${options.location.column}`
      : filePath;
    super([{ path: where, message: problem }], { subject: "config file", cause: options.cause });
    this.message = `Config file ${where}: ${problem}. ${next}`;
    this.filePath = filePath;
    this.location = options.location;
  }
}
