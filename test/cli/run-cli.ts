// Runs the compiled CLI as a user does (a child process) and collects its exit code and output: the one
// helper every command test uses.

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

export const cliPath = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin (which is then closed). */
  stdin?: string;
  /** Kill the command after this many milliseconds (default: no limit). */
  timeoutMs?: number;
}

/** `adaptlm <args>`: resolves (never rejects) with the exit code, stdout and stderr. */
export function adaptlm(args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cliPath, ...args],
      {
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, ...options.env },
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.stdin ?? "");
  });
}
