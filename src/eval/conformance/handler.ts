import type { Check } from "./checks.js";
import type { CaseSpec, GoldenCase } from "./golden-case.js";

/** Runs one kind of golden case (chosen by case.json's task / method / family) and returns its checks. */
export interface CaseHandler {
  name: string;
  handles(spec: CaseSpec): boolean;
  run(c: GoldenCase): Check[];
}
