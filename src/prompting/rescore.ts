// Re-scoring outputs recorded elsewhere (e.g. a paper's published generations) with our answer extraction,
// voting and metric, to check that the extraction reproduces published numbers. The CLI command
// `adaptlm score-outputs` reads the JSONL files and calls `rescoreOutputs`.
//
// An output record: {"id": ..., "output": "..."} or {"id": ..., "outputs": ["...", ...]} for several samples,
// optionally "logprobs": one entry per sample, either the sample's token logprobs (an array) or its mean token
// logprob (a number), for the weighted vote. A gold record: {"id": ..., "answer": ...}.

import { AdaptlmError } from "../errors.js";
import { type AnswerType, answersMatch, extractAnswer } from "./answer-extraction.js";
import { extractCotAnswer } from "./chain-of-thought.js";
import { aggregateVotes, pathWeight, type VoteCount } from "./self-consistency.js";

export class RescoreError extends AdaptlmError {
  constructor(message: string) {
    super("PROMPT_RESCORE", message);
  }
}

export interface RecordedOutput {
  id: string | number;
  output?: string;
  outputs?: string[];
  logprobs?: Array<number | number[]>;
}

export interface GoldAnswer {
  id: string | number;
  answer: string | number;
}

export interface RescoreOptions {
  answerType: AnswerType;
  /** Default "majority"; "weighted" needs logprobs for every sample. */
  vote?: "majority" | "weighted";
  /**
   * "answer-phrase": after the last "The answer is", else the last candidate (few-shot CoT outputs);
   * "first": the first candidate (answers after a trigger, as zero-shot-CoT stage 2); "last": the last candidate.
   * Default "answer-phrase".
   */
  extraction?: "answer-phrase" | "first" | "last";
  choiceLetters?: readonly string[];
}

export interface RescoredExample {
  id: string;
  gold: string;
  predicted: string | undefined;
  correct: boolean;
  votes: VoteCount[];
}

export interface RescoreResult {
  /** Correct / gold examples (an example without outputs counts as wrong). */
  accuracy: number;
  correct: number;
  total: number;
  /** Gold ids with no output record. */
  missing: string[];
  /** Output ids with no gold answer (ignored). */
  unmatched: string[];
  examples: RescoredExample[];
}

export function rescoreOutputs(
  outputs: readonly RecordedOutput[],
  gold: readonly GoldAnswer[],
  options: RescoreOptions,
): RescoreResult {
  const byId = new Map<string, RecordedOutput>();
  for (const record of outputs) {
    const id = String(record.id);
    if (byId.has(id))
      throw new RescoreError(`output id ${JSON.stringify(id)} appears twice: ids must be unique`);
    byId.set(id, record);
  }
  const goldIds = new Set(gold.map((entry) => String(entry.id)));
  const extraction = options.extraction ?? "answer-phrase";
  const letters = options.choiceLetters ? { choiceLetters: options.choiceLetters } : {};
  const extract = (text: string): string | undefined =>
    extraction === "answer-phrase"
      ? extractCotAnswer(text, { answerType: options.answerType, ...letters })
      : extractAnswer(text, { type: options.answerType, position: extraction, ...letters });

  const examples: RescoredExample[] = [];
  const missing: string[] = [];
  let correct = 0;
  for (const entry of gold) {
    const id = String(entry.id);
    const goldAnswer = String(entry.answer);
    const record = byId.get(id);
    if (!record) {
      missing.push(id);
      examples.push({ id, gold: goldAnswer, predicted: undefined, correct: false, votes: [] });
      continue;
    }
    const texts = record.outputs ?? (record.output !== undefined ? [record.output] : []);
    if (texts.length === 0)
      throw new RescoreError(`output ${JSON.stringify(id)} has neither "output" nor "outputs"`);
    const weights = readWeights(record, texts.length, options.vote === "weighted");
    const votes = aggregateVotes(
      texts.map((text, i) => ({ answer: extract(text), ...(weights ? { weight: weights[i] } : {}) })),
    );
    const predicted = options.vote === "weighted" ? votes.weighted : votes.majority;
    const isCorrect = answersMatch(predicted, goldAnswer, options.answerType);
    if (isCorrect) correct++;
    examples.push({ id, gold: goldAnswer, predicted, correct: isCorrect, votes: votes.votes });
  }
  const unmatched = [...byId.keys()].filter((id) => !goldIds.has(id));
  return {
    accuracy: gold.length === 0 ? 0 : correct / gold.length,
    correct,
    total: gold.length,
    missing,
    unmatched,
    examples,
  };
}

function readWeights(record: RecordedOutput, samples: number, required: boolean): number[] | undefined {
  if (!record.logprobs) {
    if (required) {
      throw new RescoreError(
        `the weighted vote needs "logprobs" for every sample; output ${JSON.stringify(String(record.id))} has none`,
      );
    }
    return undefined;
  }
  if (record.logprobs.length !== samples) {
    throw new RescoreError(
      `output ${JSON.stringify(String(record.id))} has ${samples} samples but ${record.logprobs.length} logprobs entries`,
    );
  }
  return record.logprobs.map((entry) => (Array.isArray(entry) ? (pathWeight(entry) ?? 0) : Math.exp(entry)));
}
