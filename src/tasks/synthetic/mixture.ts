// The synthetic part of the lab models' pretraining data, and the matching evaluation task files. Texts of
// all families are drawn from one seeded stream, so the first n texts of a larger count are the n texts of a
// smaller one. Evaluation files are JSONL in the field names `adaptlm prompt` reads by default (text, label;
// answer tasks add rationale, subquestions and steps for CoT and least-to-most demonstrations), plus a
// tasks.json index saying which strategies and fields each file is for.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../io/atomic-file.js";
import { createRng } from "../../prompting/random.js";
import {
  type ArbitraryLabelPretrainingOptions,
  arbitraryLabelPretrainingText,
  CLASSIFICATION_FAMILIES,
  type ClassificationRecord,
  classificationTaskRecords,
} from "./arbitrary-label-classification.js";
import {
  type AnswerTaskRecord,
  type ArithmeticPretrainingOptions,
  arithmeticPretrainingText,
  arithmeticTaskRecords,
} from "./arithmetic.js";
import { checkInteger, weightedChoice } from "./format.js";
import {
  type LastLetterPretrainingOptions,
  lastLetterPretrainingText,
  lastLetterTaskRecords,
} from "./last-letter.js";

export interface FamilyWeights {
  classification?: number;
  arithmetic?: number;
  lastLetter?: number;
}

export const DEFAULT_FAMILY_WEIGHTS: Required<FamilyWeights> = {
  classification: 0.4,
  arithmetic: 0.35,
  lastLetter: 0.25,
};

export interface SyntheticPretrainingOptions {
  seed: number;
  count: number;
  /** Relative weights of the task families. Default DEFAULT_FAMILY_WEIGHTS; a family left out weighs 0. */
  weights?: FamilyWeights;
  classification?: ArbitraryLabelPretrainingOptions;
  arithmetic?: ArithmeticPretrainingOptions;
  lastLetter?: LastLetterPretrainingOptions;
}

/** `count` pretraining sequences, each one family's sequence, families drawn by weight. */
export function syntheticPretrainingTexts(options: SyntheticPretrainingOptions): string[] {
  checkInteger("count", options.count, 0);
  const rng = createRng(options.seed);
  const weights = options.weights ?? DEFAULT_FAMILY_WEIGHTS;
  const generators: Record<keyof FamilyWeights, () => string> = {
    classification: () => arbitraryLabelPretrainingText(rng, options.classification),
    arithmetic: () => arithmeticPretrainingText(rng, options.arithmetic),
    lastLetter: () => lastLetterPretrainingText(rng, options.lastLetter),
  };
  return Array.from({ length: options.count }, () => generators[weightedChoice(rng, weights)]());
}

export interface SyntheticTaskFile {
  /** File name, e.g. "sentiment-phrase.jsonl". */
  file: string;
  kind: "classification" | "answer";
  /** `adaptlm prompt` strategies the file is made for. */
  strategies: string[];
  /** Label fields to pass as --label-field ("label" is the default). */
  labelFields: string[];
  /** Classification: the files of the same task in other domains (out-of-domain demonstration inputs). */
  otherDomains?: string[];
  /** Difficulty of answer tasks. */
  difficulty?: Record<string, number>;
  records: Array<ClassificationRecord | AnswerTaskRecord>;
}

export interface SyntheticEvaluationOptions {
  seed: number;
  /** Records per file. Default 200. */
  count?: number;
  /** Arithmetic files, one per (digits, steps). Default digits [1, 2, 3] x steps [1, 2, 3]. */
  arithmeticDigits?: readonly number[];
  arithmeticSteps?: readonly number[];
  /** Last-letter files, one per word count. Default 2..6. */
  lastLetterWords?: readonly number[];
}

const CLASSIFICATION_STRATEGIES = ["zero-shot", "few-shot"];
const ANSWER_STRATEGIES = ["cot", "zero-shot-cot", "self-consistency", "least-to-most"];

/** Every evaluation task file's records (pure; `writeSyntheticTaskFiles` writes them). */
export function syntheticEvaluationTasks(options: SyntheticEvaluationOptions): SyntheticTaskFile[] {
  const count = options.count ?? 200;
  checkInteger("count", count, 1);
  const files: SyntheticTaskFile[] = [];
  for (const family of CLASSIFICATION_FAMILIES) {
    const domains = Object.keys(family.domains);
    for (const domain of domains) {
      files.push({
        file: `${family.name}-${domain}.jsonl`,
        kind: "classification",
        strategies: CLASSIFICATION_STRATEGIES,
        labelFields: ["label", "arbitraryLabel"],
        otherDomains: domains
          .filter((other) => other !== domain)
          .map((other) => `${family.name}-${other}.jsonl`),
        records: classificationTaskRecords(family.name, domain, { seed: options.seed, count }),
      });
    }
  }
  for (const digits of options.arithmeticDigits ?? [1, 2, 3]) {
    for (const steps of options.arithmeticSteps ?? [1, 2, 3]) {
      files.push({
        file: `arithmetic-d${digits}-s${steps}.jsonl`,
        kind: "answer",
        // one-step problems have no decomposition
        strategies: steps >= 2 ? ANSWER_STRATEGIES : ANSWER_STRATEGIES.filter((s) => s !== "least-to-most"),
        labelFields: ["label"],
        difficulty: { digits, steps },
        records: arithmeticTaskRecords({ seed: options.seed, count, digits, steps }),
      });
    }
  }
  for (const n of options.lastLetterWords ?? [2, 3, 4, 5, 6]) {
    files.push({
      file: `last-letter-n${n}.jsonl`,
      kind: "answer",
      strategies: ANSWER_STRATEGIES,
      labelFields: ["label"],
      difficulty: { words: n },
      records: lastLetterTaskRecords({ seed: options.seed, count, n }),
    });
  }
  return files;
}

/** Writes every task file as JSONL into `dir` (created if missing), plus tasks.json; returns the paths. */
export function writeSyntheticTaskFiles(dir: string, options: SyntheticEvaluationOptions): string[] {
  mkdirSync(dir, { recursive: true });
  const files = syntheticEvaluationTasks(options);
  const paths: string[] = [];
  for (const task of files) {
    const path = join(dir, task.file);
    writeFileAtomic(path, task.records.map((record) => JSON.stringify(record)).join("\n") + "\n");
    paths.push(path);
  }
  const index = {
    seed: options.seed,
    tasks: files.map(({ records, ...description }) => ({ ...description, count: records.length })),
  };
  const indexPath = join(dir, "tasks.json");
  writeFileAtomic(indexPath, `${JSON.stringify(index, null, 2)}\n`);
  paths.push(indexPath);
  return paths;
}
