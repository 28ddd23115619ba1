// The rows a comparison can have: every fine-tuning method of `adaptlm train`, and the prompting strategies
// (those of `adaptlm prompt`, plus an instruction-only prompt and APE's searched instruction), some with a
// demonstration count ("few-shot:8"). Parsing here gives one typed error listing what is valid.

import { TRAIN_METHODS, type TrainMethod } from "../../train/train-run.js";
import { CompareError } from "./report.js";

export const COMPARE_STRATEGIES = [
  "zero-shot",
  "instructions",
  "few-shot",
  "cot",
  "zero-shot-cot",
  "self-consistency",
  "least-to-most",
  "ape",
] as const;
export type CompareStrategy = (typeof COMPARE_STRATEGIES)[number];

/** Strategies that show demonstrations and so take ":k". */
const WITH_DEMONSTRATIONS: readonly CompareStrategy[] = [
  "few-shot",
  "cot",
  "self-consistency",
  "least-to-most",
];

export interface StrategySpec {
  /** As requested, e.g. "few-shot:8": the row name. */
  name: string;
  strategy: CompareStrategy;
  /** Demonstrations per prompt (0 where the strategy shows none). */
  k: number;
}

export const DEFAULT_METHODS: readonly TrainMethod[] = ["full", "lora"];
export const DEFAULT_STRATEGIES: readonly string[] = ["zero-shot", "few-shot:4"];

function unique(names: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new CompareError("COMPARE_BAD_OPTION", `${what} "${name}" is listed twice`);
    seen.add(name);
  }
}

export function parseMethods(names: readonly string[]): TrainMethod[] {
  unique(names, "method");
  for (const name of names) {
    if (!(TRAIN_METHODS as readonly string[]).includes(name))
      throw new CompareError(
        "COMPARE_UNKNOWN_METHOD",
        `unknown method "${name}": valid methods are ${TRAIN_METHODS.join(", ")}`,
      );
  }
  return names as TrainMethod[];
}

export function parseStrategy(name: string): StrategySpec {
  const match = /^([a-z-]+)(?::(\d+))?$/.exec(name);
  const base = match?.[1] as CompareStrategy | undefined;
  const valid = `valid strategies are ${COMPARE_STRATEGIES.join(", ")} (${WITH_DEMONSTRATIONS.join(", ")} take ":k" demonstrations, e.g. few-shot:8)`;
  if (!match || !base || !(COMPARE_STRATEGIES as readonly string[]).includes(base))
    throw new CompareError("COMPARE_UNKNOWN_STRATEGY", `unknown strategy "${name}": ${valid}`);
  const takesK = WITH_DEMONSTRATIONS.includes(base);
  if (match[2] !== undefined && !takesK)
    throw new CompareError(
      "COMPARE_UNKNOWN_STRATEGY",
      `strategy "${base}" shows no demonstrations, so "${name}" has no meaning: ${valid}`,
    );
  const k = takesK ? Number(match[2] ?? 4) : 0;
  if (takesK && k < 1)
    throw new CompareError(
      "COMPARE_UNKNOWN_STRATEGY",
      `"${name}": the demonstration count must be at least 1`,
    );
  return { name, strategy: base, k };
}

export function parseStrategies(names: readonly string[]): StrategySpec[] {
  unique(names, "strategy");
  return names.map(parseStrategy);
}

/** The folder name of a row's artefacts ("few-shot:8" -> "few-shot-8"). */
export function rowFolderName(name: string): string {
  return name.replace(/[^\w.-]+/g, "-");
}
