// Atomic file writes: the one way adaptlm writes a file that someone may read later (checkpoints, adapters,
// safetensors, results). The data goes to a temporary file in the same directory, is flushed to disk with
// fsync, and is then renamed over the target. A reader therefore sees either the old file or the complete new
// one, never a half-written file, even if the process dies mid-write. The rename is atomic only within one
// file system, which is why the temporary file lives next to the target.

import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { AdaptlmError } from "../errors.js";

/** Error raised when an atomic write fails; `cause` holds the underlying file-system error. */
export class AtomicWriteError extends AdaptlmError {}

/**
 * Writes a file atomically by streaming: `writeContents` receives a function that appends bytes to a temporary
 * file in the target's directory; when it returns, the temporary file is fsynced and renamed over `path`, and
 * the directory is fsynced (best effort) so the rename itself survives a crash. Lets large files (safetensors)
 * be written piece by piece without building the whole file in memory.
 *
 * Errors: `AtomicWriteError` with code `ATOMIC_WRITE_FAILED` (cause: the fs error) if the directory is missing
 * or not writable, the disk is full, or the rename fails. Errors thrown by `writeContents` itself propagate
 * unchanged. In every failure case the temporary file is removed and the target is left untouched.
 */
export function writeFileAtomicStreaming(
  path: string,
  writeContents: (append: (bytes: Uint8Array) => void) => void,
): void {
  const directory = dirname(path);
  const temporaryPath = join(
    directory,
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`,
  );
  let fd: number;
  try {
    fd = openSync(temporaryPath, "wx", 0o644);
  } catch (error) {
    throw new AtomicWriteError(
      "ATOMIC_WRITE_FAILED",
      `cannot create a temporary file in ${directory} to write ${path}: ${describe(error)}. ` +
        "Check that the directory exists and is writable.",
      { cause: error },
    );
  }
  let renamed = false;
  try {
    const append = (bytes: Uint8Array): void => {
      let written = 0;
      while (written < bytes.byteLength) {
        written += writeSync(fd, bytes, written, bytes.byteLength - written);
      }
    };
    try {
      writeContents(append);
    } catch (error) {
      if (error instanceof AdaptlmError) throw error;
      if (isFsError(error)) {
        throw new AtomicWriteError("ATOMIC_WRITE_FAILED", `cannot write ${path}: ${describe(error)}`, {
          cause: error,
        });
      }
      throw error;
    }
    try {
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      renameSync(temporaryPath, path);
      renamed = true;
    } catch (error) {
      throw new AtomicWriteError(
        "ATOMIC_WRITE_FAILED",
        `cannot finish writing ${path}: ${describe(error)}. The previous file, if any, is unchanged.`,
        { cause: error },
      );
    }
    syncDirectory(directory);
  } finally {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is more useful
      }
    }
    if (!renamed) {
      try {
        unlinkSync(temporaryPath);
      } catch {
        // the temporary file may not exist any more
      }
    }
  }
}

/**
 * Writes `data` (bytes, or a string encoded as UTF-8) to `path` atomically: temporary file in the same
 * directory + fsync + rename. Errors: `AtomicWriteError` (code `ATOMIC_WRITE_FAILED`), target left untouched.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  writeFileAtomicStreaming(path, (append) => append(bytes));
}

/** fsync of the directory entry so that a completed rename survives a power loss (not supported everywhere). */
function syncDirectory(directory: string): void {
  let fd = -1;
  try {
    fd = openSync(directory, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the rename has happened either way.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

function isFsError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string";
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
