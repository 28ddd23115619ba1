// The contract of one CLI command. Each file in src/cli/commands/ exports `command`; the file name is the
// command name, so adding a command is adding a file (main.ts discovers them).

export interface CliCommand {
  /** One line for `adaptlm --help`. */
  summary: string;
  /** The full `adaptlm <command> --help` text. */
  help: string;
  run(argv: string[]): void | Promise<void>;
}
