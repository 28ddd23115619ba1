// The conformance runner: every case of a golden folder (laid out like ../shared/golden) on every backend,
// one result per case and backend.

import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Backend } from "../../backend/backend.js";
import { currentBackend, setCurrentBackend } from "../../backend/registry.js";
import { AdaptlmError } from "../../errors.js";
import * as T from "../../tensor/index.js";
import type { Check } from "./checks.js";
import { readGoldenCase } from "./golden-case.js";
import { caseHandlers } from "./handlers.js";

export interface CaseResult {
  caseName: string;
  backend: string;
  pass: boolean;
  /** The largest error among the checks (0 when none ran). */
  maxError: number;
  checks: Check[];
  /** Why the case could not run (unsupported kind, malformed files). */
  error?: string;
}

/** Case names of a golden folder: the sub-folders of cases/ holding a case.json. */
export function listCases(root: string): string[] {
  const dir = join(root, "cases");
  if (!existsSync(dir)) {
    throw new AdaptlmError(
      "GOLDEN_FOLDER_INVALID",
      `${root} has no cases/ folder: expected the layout of shared/golden (cases/<name>/case.json, models/...)`,
    );
  }
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory() && existsSync(join(dir, name, "case.json")))
    .sort();
}

export function runCase(root: string, caseName: string, backend: Backend): CaseResult {
  const previous = currentBackend();
  setCurrentBackend(backend);
  try {
    return T.scope(() => {
      const c = readGoldenCase(root, caseName);
      const handler = caseHandlers.find((h) => h.handles(c.spec));
      if (!handler) {
        return {
          caseName,
          backend: backend.name,
          pass: false,
          maxError: Number.NaN,
          checks: [],
          error: `no handler for task "${c.spec.task}" with method "${c.spec.method}" (family ${c.spec.family})`,
        };
      }
      const checks = handler.run(c);
      const maxError = checks.reduce((m, ch) => Math.max(m, ch.maxError), 0);
      return {
        caseName,
        backend: backend.name,
        pass: checks.length > 0 && checks.every((ch) => ch.pass),
        maxError,
        checks,
      };
    });
  } catch (error) {
    return {
      caseName,
      backend: backend.name,
      pass: false,
      maxError: Number.NaN,
      checks: [],
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    setCurrentBackend(previous);
  }
}

/** Runs every case on every given backend, reporting each result as it completes. */
export function runConformance(
  root: string,
  backends: readonly Backend[],
  onResult: (r: CaseResult) => void = () => {},
): CaseResult[] {
  const results: CaseResult[] = [];
  for (const caseName of listCases(root)) {
    for (const backend of backends) {
      const result = runCase(root, caseName, backend);
      results.push(result);
      onResult(result);
    }
  }
  return results;
}
