// The text formats of the synthetic pretraining sequences. Every sequence is rendered by the prompting
// strategies' own builders (src/prompting), with the answer of the last query appended, so a lab model
// pretrained on these sequences sees at evaluation time exactly the prompts it was trained to continue:
//   classification: the prompt-run template, "Possible labels: a, b.\n\nInput: x\nLabel: a\n\n..."
//   direct:         "Q: q\nA: The answer is a." blocks (the CoT format without reasoning)
//   cot:            "Q: q\nA: <rationale> The answer is a." blocks (buildCotPrompt)
//   zero-shot-cot:  "Q: q\nA: Let's think step by step. <rationale> Therefore, the answer ... is a."
//   decomposition:  least-to-most stage 1 (buildDecompositionPrompt) with the sub-question list
//   solving:        least-to-most stage 2 (buildSolvingPrefix) with every step answered

import { AdaptlmError } from "../../errors.js";
import { ANSWER_PHRASE, type AnswerType } from "../../prompting/answer-extraction.js";
import { buildCotPrompt, type CotExemplar } from "../../prompting/chain-of-thought.js";
import type { LabelledExample } from "../../prompting/example.js";
import {
  buildDecompositionPrompt,
  buildSolvingPrefix,
  type SolutionExemplar,
} from "../../prompting/least-to-most.js";
import { type Rng, randomIndex } from "../../prompting/random.js";
import { buildPrompt, formatTarget, type PromptTemplate } from "../../prompting/template.js";
import { answerTrigger, reasoningPrompt } from "../../prompting/zero-shot-cot.js";

export class SyntheticTaskError extends AdaptlmError {
  constructor(message: string) {
    super("SYNTHETIC_TASK", message);
  }
}

/**
 * The classification template of `adaptlm prompt` (src/eval/prompt-run.ts CLASSIFICATION_TEMPLATE, which this
 * layer may not import; a test keeps the two equal). Its one input field is `input`.
 */
export const SYNTHETIC_CLASSIFICATION_TEMPLATE: PromptTemplate = {
  name: "prompt-run/input-label",
  instruction: "Possible labels: {{choices}}.",
  input: "Input: {{input}}\nLabel:",
  target: " {{label}}",
};

/**
 * A whole few-shot classification sequence: the prompt the few-shot strategy builds for the last example
 * (with the earlier ones as demonstrations) followed by the last example's target. `choices` are the label
 * words listed by the instruction, in order; each example's label is already its label word.
 */
export function classificationSequence(
  examples: readonly { input: string; label: string }[],
  choices: readonly string[],
): string {
  if (examples.length === 0)
    throw new SyntheticTaskError("a classification sequence needs at least one example");
  const labelled: LabelledExample[] = examples.map((example) => ({
    fields: { input: example.input },
    label: example.label,
  }));
  const query = labelled[labelled.length - 1];
  const template = SYNTHETIC_CLASSIFICATION_TEMPLATE;
  return (
    buildPrompt(template, labelled.slice(0, -1), query, { labels: choices }) +
    formatTarget(template, query.label)
  );
}

/** A worked problem of an answer task: a CoT exemplar with optional least-to-most decomposition. */
export interface WorkedProblem extends CotExemplar {
  /** Least-to-most sub-questions (the question itself excluded). */
  subquestions?: string[];
  /** Least-to-most steps: the sub-questions answered, then the question itself, last. */
  steps?: Array<{ question: string; answer: string }>;
}

export type AnswerFormat = "direct" | "cot" | "zero-shot-cot" | "decomposition" | "solving";

export const ANSWER_FORMATS: readonly AnswerFormat[] = [
  "direct",
  "cot",
  "zero-shot-cot",
  "decomposition",
  "solving",
];

/** "Q: q\nA: The answer is a." per problem (standard prompting, Wei et al. 2022). */
export function directSequence(problems: readonly WorkedProblem[]): string {
  return problems
    .map((problem) => `Q: ${problem.question}\nA: ${ANSWER_PHRASE} ${problem.answer}.`)
    .join("\n\n");
}

/** buildCotPrompt over all but the last problem, then the last problem's reasoning and answer. */
export function cotSequence(problems: readonly WorkedProblem[]): string {
  const last = lastOf(problems);
  return `${buildCotPrompt(problems.slice(0, -1), last.question)} ${last.rationale} ${ANSWER_PHRASE} ${last.answer}.`;
}

/**
 * Zero-shot CoT blocks: the stage-1 prompt, the reasoning, then Kojima et al.'s answer trigger and the
 * answer, which is what the stage-2 prompt asks the model to complete.
 */
export function zeroShotCotSequence(problems: readonly WorkedProblem[], answerType: AnswerType): string {
  return problems
    .map(
      (problem) =>
        `${reasoningPrompt(problem.question)} ${problem.rationale} ${answerTrigger(answerType)} ${problem.answer}.`,
    )
    .join("\n\n");
}

/** Least-to-most stage 1 with the last problem's sub-questions listed. */
export function decompositionSequence(problems: readonly WorkedProblem[]): string {
  const withSubquestions = problems.filter((problem) => (problem.subquestions ?? []).length > 0);
  const last = lastOf(withSubquestions);
  const exemplars = withSubquestions.map((problem) => ({
    question: problem.question,
    subquestions: problem.subquestions as string[],
  }));
  const list = (last.subquestions as string[]).map((sub, i) => `${i + 1}. ${sub}`).join("\n");
  return buildDecompositionPrompt(exemplars.slice(0, -1), last.question) + list;
}

/** Least-to-most stage 2: solved exemplars, then the last problem with every step answered. */
export function solvingSequence(problems: readonly WorkedProblem[]): string {
  const exemplars: SolutionExemplar[] = problems
    .filter((problem) => (problem.steps ?? []).length > 0)
    .map((problem) => ({ problem: problem.question, steps: problem.steps as SolutionExemplar["steps"] }));
  const last = lastOf(exemplars);
  // leastToMost asks each step as `${context}\n\nQ: ${question}\nA:` and appends " " + the answer
  return (
    buildSolvingPrefix(exemplars.slice(0, -1)) +
    last.problem +
    last.steps.map((step) => `\n\nQ: ${step.question}\nA: ${step.answer}`).join("")
  );
}

/** One pretraining sequence of answer problems in the given format. */
export function answerSequence(
  problems: readonly WorkedProblem[],
  format: AnswerFormat,
  answerType: AnswerType,
): string {
  switch (format) {
    case "direct":
      return directSequence(problems);
    case "cot":
      return cotSequence(problems);
    case "zero-shot-cot":
      return zeroShotCotSequence(problems, answerType);
    case "decomposition":
      return decompositionSequence(problems);
    case "solving":
      return solvingSequence(problems);
  }
}

/** Format weights: non-negative numbers, at least one positive; missing formats weigh 0. */
export type FormatWeights = Partial<Record<AnswerFormat, number>>;

/** A key drawn with probability proportional to its weight. */
export function weightedChoice<K extends string>(rng: Rng, weights: Readonly<Partial<Record<K, number>>>): K {
  const entries = Object.entries(weights) as Array<[K, number | undefined]>;
  let total = 0;
  for (const [key, weight] of entries) {
    if (weight === undefined) continue;
    if (!Number.isFinite(weight) || weight < 0) {
      throw new SyntheticTaskError(`weight of "${key}" must be a finite non-negative number, got ${weight}`);
    }
    total += weight;
  }
  if (total <= 0) {
    throw new SyntheticTaskError(
      `weights [${entries.map(([key, w]) => `${key}=${w}`).join(", ")}] sum to 0: give at least one a positive weight`,
    );
  }
  let point = rng() * total;
  for (const [key, weight] of entries) {
    if (!weight) continue;
    if (point < weight) return key;
    point -= weight;
  }
  // float rounding can leave point a hair above the last weight
  return entries.filter(([, weight]) => weight)[entries.filter(([, weight]) => weight).length - 1][0];
}

/** One item of a list, uniformly. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[randomIndex(rng, items.length)];
}

/** An integer in [min, max]. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + randomIndex(rng, max - min + 1);
}

/** Checks an integer option: what was expected and what was given. */
export function checkInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new SyntheticTaskError(`${name} must be an integer ${range}, got ${value}`);
  }
}

function lastOf<T>(items: readonly T[]): T {
  if (items.length === 0) throw new SyntheticTaskError("a sequence needs at least one problem of its format");
  return items[items.length - 1];
}

/** A seed derived from a base seed and names (FNV-1a), so each task file draws an independent stream. */
export function deriveSeed(seed: number, ...names: readonly (string | number)[]): number {
  let hash = (0x811c9dc5 ^ Math.trunc(seed)) >>> 0;
  const text = names.join("\u0000");
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** A word list written as one space-separated string, which keeps long lists compact. */
export function words(list: string): readonly string[] {
  return list.split(" ");
}

/**
 * Which problems a generator may return. Pretraining draws from "train" and evaluation files from
 * "held-out", split by a hash of the problem's content key (the numbers and operations of an arithmetic
 * problem, the word list of a last-letter one), so no evaluation problem is seen in pretraining, whatever
 * names or wording surround it. "any" draws from both.
 */
export type Split = "train" | "held-out" | "any";

/** One problem key in ten is held out. */
export function splitOf(key: string): "train" | "held-out" {
  return deriveSeed(0, "split", key) % 10 === 0 ? "held-out" : "train";
}

/**
 * Draws until a problem of the split comes (a bounded number of tries, then a clear error). `keys` are the
 * problem's own key, last, after the keys of the smaller problems it contains (its first steps or words),
 * which its worked solution states too: a "train" problem must contain no held-out problem, while a
 * "held-out" one only needs its own key held out.
 */
export function drawInSplit<T>(split: Split, draw: () => { keys: string[]; value: T }, what: string): T {
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const drawn = draw();
    if (split === "any") return drawn.value;
    if (split === "held-out" && splitOf(drawn.keys[drawn.keys.length - 1]) === "held-out") return drawn.value;
    if (split === "train" && drawn.keys.every((key) => splitOf(key) === "train")) return drawn.value;
  }
  throw new SyntheticTaskError(
    `no ${what} of the ${split} split after 10000 draws: the problem space is too small for a split; use split "any"`,
  );
}
