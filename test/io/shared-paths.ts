// Where the tests find the read-only project fixtures in ../shared (next to the repository, never copied
// into it). Resolved from this compiled file's location (dist/test/io/shared-paths.js -> <repo>/../shared),
// so it does not depend on the working directory the test runner was started from.

import { fileURLToPath } from "node:url";

/** Absolute path of the shared fixtures folder, with a trailing separator. */
export const sharedDir = fileURLToPath(new URL("../../../../shared/", import.meta.url));

/** Absolute path of `relative` inside ../shared (e.g. "golden/models/bert/config.json"). */
export function sharedPath(relative: string): string {
  return fileURLToPath(new URL(relative, new URL("../../../../shared/", import.meta.url)));
}
