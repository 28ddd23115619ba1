// Paths a comparison records, so a moved folder still resumes. A path into the folder (the split files under
// data/) is recorded relative to it ("data/test.jsonl") and moves with it; a path outside (the task, the
// encoder) stays absolute, since it does not move with the folder, and the report shows it as a place. The task
// is recognised on resume by the split files it produced (a content hash), not by where it is, so a task may
// move too. Folders written before this recorded absolute paths into themselves: those are still read.

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { RUN_FILE, type RunSetup } from "../results-store.js";

/** `path` as recorded in a comparison folder `runDir`: relative with "/" inside it, absolute outside it. */
export function storedPath(runDir: string, path: string): string {
  const from = relative(resolve(runDir), resolve(path));
  // outside the folder, or on another drive (Windows), where there is no relative path
  if (from === ".." || from.startsWith(`..${sep}`) || isAbsolute(from)) return resolve(path);
  return from.split(sep).join("/");
}

/** A recorded path as a location: relative ones from `runDir`, old absolute ones as they are. */
export function resolveStored(runDir: string, stored: string): string {
  return isAbsolute(stored) ? stored : resolve(runDir, stored);
}

/** A hash of the split files' contents (the data every row sees), in train, validation, test order. */
export function splitsFingerprint(files: { train: string; validation: string | null; test: string }): string {
  const hash = createHash("sha256");
  for (const file of [files.train, files.validation, files.test]) {
    hash.update(file === null ? "\u0000none" : readFileSync(file));
    hash.update("\u0000");
  }
  return `sha256:${hash.digest("hex").slice(0, 16)}`;
}

/**
 * The setup of a results store in `dir` with `paths` (relative to the comparison folder) replaced by the
 * absolute paths an older run recorded for the same files (same path from the comparison folder, wherever
 * that folder was), so the store opens; other stores get `setup` unchanged.
 */
export function withRecordedPaths(
  dir: string,
  setup: RunSetup,
  paths: { taskFile: string; options: Record<string, string> },
): RunSetup {
  const runPath = join(dir, RUN_FILE);
  if (!existsSync(runPath)) return setup;
  let recorded: RunSetup;
  try {
    recorded = JSON.parse(readFileSync(runPath, "utf8")) as RunSetup;
  } catch {
    return setup; // ResultsStore.open reports the broken file
  }
  const same = (old: unknown, stored: string): old is string =>
    typeof old === "string" && isAbsolute(old) && old.split(sep).join("/").endsWith(`/${stored}`);
  const out: RunSetup = { ...setup, options: { ...setup.options } };
  if (same(recorded.taskFile, paths.taskFile)) out.taskFile = recorded.taskFile;
  for (const [key, stored] of Object.entries(paths.options)) {
    const old = recorded.options?.[key];
    if (same(old, stored)) out.options[key] = old;
  }
  return out;
}
