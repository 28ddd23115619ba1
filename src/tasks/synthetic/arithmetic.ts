// Multi-digit addition and subtraction word problems with people and objects, one or more steps, each with a
// worked rationale in the chain-of-thought exemplar style ("Tom starts with 23 apples. After buying 48 more,
// Tom has 23 + 48 = 71 apples.", then " The answer is 71.") and a least-to-most decomposition for problems of
// two or more steps. Pretraining sequences mix direct-answer, worked-reasoning, zero-shot-CoT and
// least-to-most formats so that the gap between standard and chain-of-thought prompting can appear in a lab
// model; `digits` and `steps` set the difficulty of evaluation problems.

import { createRng, type Rng } from "../../prompting/random.js";
import {
  type AnswerFormat,
  answerSequence,
  checkInteger,
  deriveSeed,
  drawInSplit,
  type FormatWeights,
  pick,
  randomInt,
  type Split,
  SyntheticTaskError,
  type WorkedProblem,
  weightedChoice,
  words,
} from "./format.js";

const NAMES: readonly string[] = words(
  "Tom Anna Sam Maria Ben Lucy Omar Nina Jack Emma Leo Sara Max Ivy Raj Mia Paul Zoe Hugo Lena",
);
const OBJECTS: readonly string[] = [
  "apples",
  "marbles",
  "stickers",
  "coins",
  "pencils",
  "books",
  "cards",
  "shells",
  "stamps",
  "balloons",
  "cookies",
  "buttons",
  "candles",
  "flowers",
  "toy cars",
  "crayons",
];

interface Operation {
  kind: "add" | "subtract";
  amount: number;
  /** The clause in the question, e.g. "buys 48 more". */
  clause: string;
  /** The participle in the rationale and sub-question, e.g. "buying 48 more". */
  participle: string;
}

function operation(rng: Rng, kind: "add" | "subtract", amount: number, other: string): Operation {
  if (kind === "add") {
    return pick(rng, [
      { kind, amount, clause: `buys ${amount} more`, participle: `buying ${amount} more` },
      { kind, amount, clause: `finds ${amount} more`, participle: `finding ${amount} more` },
      {
        kind,
        amount,
        clause: `gets ${amount} more from ${other}`,
        participle: `getting ${amount} more from ${other}`,
      },
    ]);
  }
  return pick(rng, [
    { kind, amount, clause: `gives ${amount} to ${other}`, participle: `giving ${amount} to ${other}` },
    { kind, amount, clause: `loses ${amount}`, participle: `losing ${amount}` },
    { kind, amount, clause: `sells ${amount}`, participle: `selling ${amount}` },
  ]);
}

export interface ArithmeticProblemOptions {
  /** Every number in the question has exactly this many digits. Default 2. */
  digits?: number;
  /** Operations after the starting amount. Default 1. */
  steps?: number;
  /** Default "any"; task records use "held-out" and pretraining "train". */
  split?: Split;
}

/** One problem with its answer, rationale and (for 2+ steps) least-to-most decomposition. */
export function arithmeticProblem(rng: Rng, options: ArithmeticProblemOptions = {}): WorkedProblem {
  const digits = options.digits ?? 2;
  const steps = options.steps ?? 1;
  checkInteger("digits", digits, 1, 6);
  checkInteger("steps", steps, 1, 8);
  return drawInSplit(options.split ?? "any", () => drawProblem(rng, digits, steps), "arithmetic problem");
}

/** A problem and the content keys of its operation prefixes, e.g. ["23 + 48", "23 + 48 - 5"]. */
function drawProblem(rng: Rng, digits: number, steps: number): { keys: string[]; value: WorkedProblem } {
  const low = digits === 1 ? 1 : 10 ** (digits - 1);
  const high = 10 ** digits - 1;
  const name = pick(rng, NAMES);
  const others = NAMES.filter((candidate) => candidate !== name);
  const object = pick(rng, OBJECTS);
  const start = randomInt(rng, low, high);

  let total = start;
  const operations: Operation[] = [];
  for (let i = 0; i < steps; i++) {
    // subtract only what is there, so every intermediate amount is a count of objects (>= 0)
    const canSubtract = total >= low;
    const kind = canSubtract && rng() < 0.5 ? "subtract" : "add";
    const amount = kind === "add" ? randomInt(rng, low, high) : randomInt(rng, low, Math.min(high, total));
    operations.push(operation(rng, kind, amount, pick(rng, others)));
    total = kind === "add" ? total + amount : total - amount;
  }

  const clauses = operations.map((op) => op.clause);
  const actions =
    clauses.length === 1
      ? clauses[0]
      : `${clauses.slice(0, -1).join(", ")} and then ${clauses[clauses.length - 1]}`;
  const finalQuestion = `How many ${object} does ${name} have now?`;
  const question = `${name} has ${start} ${object} and ${actions}. ${finalQuestion}`;

  const sentences = [`${name} starts with ${start} ${object}.`];
  const stepAnswers: string[] = [];
  const subquestions: string[] = [];
  let amount = start;
  for (const op of operations) {
    const next = op.kind === "add" ? amount + op.amount : amount - op.amount;
    const sign = op.kind === "add" ? "+" : "-";
    const sentence = `After ${op.participle}, ${name} has ${amount} ${sign} ${op.amount} = ${next} ${object}.`;
    sentences.push(sentence);
    stepAnswers.push(sentence);
    subquestions.push(`How many ${object} does ${name} have after ${op.participle}?`);
    amount = next;
  }
  const answer = String(total);
  // "23 + 48", "23 + 48 - 5": the problem after each operation, as its rationale works it
  const terms = [String(start), ...operations.map((op) => `${op.kind === "add" ? "+" : "-"} ${op.amount}`)];
  const keys = operations.map((_, i) => terms.slice(0, i + 2).join(" "));
  const problem: WorkedProblem = { question, rationale: sentences.join(" "), answer };
  if (steps >= 2) {
    // the last operation is the question itself: it is solved as the final step
    problem.subquestions = subquestions.slice(0, -1);
    problem.steps = [
      ...subquestions.slice(0, -1).map((sub, i) => ({ question: sub, answer: stepAnswers[i] })),
      { question, answer: `${stepAnswers[stepAnswers.length - 1]} The answer is ${answer}.` },
    ];
  }
  return { keys, value: problem };
}

/** An evaluation record, in the field names `adaptlm prompt` reads by default (text = question, label = answer). */
export interface AnswerTaskRecord {
  id: string;
  text: string;
  label: string;
  rationale: string;
  subquestions?: string[];
  steps?: Array<{ question: string; answer: string }>;
}

/** A worked problem as a task record (rationale without the answer sentence, as CoT exemplars want it). */
export function answerTaskRecord(id: string, problem: WorkedProblem): AnswerTaskRecord {
  const record: AnswerTaskRecord = {
    id,
    text: problem.question,
    label: problem.answer,
    rationale: problem.rationale,
  };
  if (problem.subquestions) record.subquestions = problem.subquestions;
  if (problem.steps) record.steps = problem.steps;
  return record;
}

/** Problems of the "held-out" split unless `split` says otherwise. */
export interface ArithmeticTaskOptions extends ArithmeticProblemOptions {
  seed: number;
  count: number;
}

export function arithmeticTaskRecords(options: ArithmeticTaskOptions): AnswerTaskRecord[] {
  checkInteger("count", options.count, 1);
  const digits = options.digits ?? 2;
  const steps = options.steps ?? 1;
  const rng = createRng(deriveSeed(options.seed, "arithmetic", digits, steps));
  return Array.from({ length: options.count }, (_, i) =>
    answerTaskRecord(
      `arithmetic-d${digits}-s${steps}-${i}`,
      arithmeticProblem(rng, { digits, steps, split: options.split ?? "held-out" }),
    ),
  );
}

export interface ArithmeticPretrainingOptions {
  /** Problems per sequence. Default 2 and 6. */
  minProblems?: number;
  maxProblems?: number;
  /** Digits are drawn uniformly from 1 to this. Default 3. */
  maxDigits?: number;
  /** Steps are drawn uniformly from 1 to this. Default 2. */
  maxSteps?: number;
  /** Default: direct 0.35, cot 0.35, zero-shot-cot 0.1, decomposition 0.1, solving 0.1. */
  formats?: FormatWeights;
  /** Default "train", so evaluation problems stay unseen. */
  split?: Split;
}

export const DEFAULT_ARITHMETIC_FORMATS: FormatWeights = {
  direct: 0.35,
  cot: 0.35,
  "zero-shot-cot": 0.1,
  decomposition: 0.1,
  solving: 0.1,
};

/**
 * One pretraining sequence: problems of one difficulty in one format. Least-to-most formats use problems of
 * at least two steps (one-step problems have nothing to decompose).
 */
export function arithmeticPretrainingText(rng: Rng, options: ArithmeticPretrainingOptions = {}): string {
  const minProblems = options.minProblems ?? 2;
  const maxProblems = options.maxProblems ?? 6;
  checkInteger("minProblems", minProblems, 1);
  checkInteger("maxProblems", maxProblems, minProblems);
  const maxDigits = options.maxDigits ?? 3;
  const maxSteps = options.maxSteps ?? 2;
  checkInteger("maxDigits", maxDigits, 1, 6);
  checkInteger("maxSteps", maxSteps, 1, 8);
  const format: AnswerFormat = weightedChoice(rng, options.formats ?? DEFAULT_ARITHMETIC_FORMATS);
  const leastToMost = format === "decomposition" || format === "solving";
  if (leastToMost && maxSteps < 2) {
    throw new SyntheticTaskError(
      `the ${format} format needs maxSteps >= 2 (got ${maxSteps}): drop it from formats`,
    );
  }
  const digits = randomInt(rng, 1, maxDigits);
  const steps = randomInt(rng, leastToMost ? 2 : 1, maxSteps);
  const count = randomInt(rng, minProblems, maxProblems);
  const problems = Array.from({ length: count }, () =>
    arithmeticProblem(rng, { digits, steps, split: options.split ?? "train" }),
  );
  return answerSequence(problems, format, "number");
}
