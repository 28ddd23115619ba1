// Self-consistency (Wang et al., 2023): sample N reasoning paths at temperature T, extract each path's answer,
// and vote. Two votes: majority (each path counts 1) and probability-weighted (each path counts its
// length-normalised sequence probability exp(mean token logprob), which needs logprobs). The vote distribution
// is reported with the winner. Samples use `n` where the backend has it, else separate seeded requests.

import {
  type CallOptions,
  type GenerateRequest,
  generateSamples,
  type LanguageModel,
  meanTokenProbability,
} from "../lm/language-model.js";

export interface VoteInput {
  /** The extracted answer; undefined when the path had none (it abstains). */
  answer: string | undefined;
  /** exp(mean token logprob) of the path, when known. */
  weight?: number;
}

export interface VoteCount {
  answer: string;
  /** Paths that gave this answer. */
  count: number;
  /** Sum of their weights (0 where weights are unknown). */
  weight: number;
}

export interface VoteResult {
  /** Majority answer; ties go to the larger total weight, then to the answer seen first. */
  majority: string | undefined;
  /** Weighted answer (largest total weight; ties to the larger count, then first seen); undefined without weights. */
  weighted: string | undefined;
  /** Per answer, by count (descending), then first seen. */
  votes: VoteCount[];
  /** Answer -> share of the voting paths (counts / voters). */
  distribution: Record<string, number>;
  /** Paths without an answer. */
  abstentions: number;
}

/** Tallies the votes of several paths. Pure: also used to re-score outputs recorded elsewhere. */
export function aggregateVotes(inputs: readonly VoteInput[]): VoteResult {
  const tallies = new Map<string, VoteCount & { first: number }>();
  let abstentions = 0;
  const hasWeights =
    inputs.length > 0 && inputs.every((input) => input.answer === undefined || input.weight !== undefined);
  inputs.forEach((input, index) => {
    if (input.answer === undefined) {
      abstentions++;
      return;
    }
    const tally = tallies.get(input.answer) ?? { answer: input.answer, count: 0, weight: 0, first: index };
    tally.count++;
    tally.weight += input.weight ?? 0;
    tallies.set(input.answer, tally);
  });
  const list = [...tallies.values()];
  const byCount = [...list].sort((a, b) => b.count - a.count || b.weight - a.weight || a.first - b.first);
  const byWeight = [...list].sort((a, b) => b.weight - a.weight || b.count - a.count || a.first - b.first);
  const voters = inputs.length - abstentions;
  const distribution: Record<string, number> = {};
  for (const tally of byCount) distribution[tally.answer] = tally.count / voters;
  return {
    majority: byCount[0]?.answer,
    weighted: hasWeights && list.length > 0 ? byWeight[0].answer : undefined,
    votes: byCount.map(({ answer, count, weight }) => ({ answer, count, weight })),
    distribution,
    abstentions,
  };
}

/** exp(mean of token logprobs): the length-normalised sequence probability of one path. */
export function pathWeight(tokenLogprobs: readonly number[]): number | undefined {
  if (tokenLogprobs.length === 0) return undefined;
  return Math.exp(tokenLogprobs.reduce((a, b) => a + b, 0) / tokenLogprobs.length);
}

export interface SelfConsistencyOptions extends CallOptions {
  /** Number of reasoning paths N. Default 10 (capped at 1000). */
  samples?: number;
  /** Default 0.7. */
  temperature?: number;
  topP?: number;
  /** Base seed (sample i uses seed + i where the backend lacks `n`). Default 0. */
  seed?: number;
  /** Ask for logprobs (for the weighted vote) where the backend has them. Default true. */
  weighted?: boolean;
  /** Separate requests in flight at once when the backend lacks `n`. Default 4. */
  concurrency?: number;
}

export interface SelfConsistencyPath {
  text: string;
  answer: string | undefined;
  weight?: number;
}

export interface SelfConsistencyResult extends VoteResult {
  /** The majority answer (the method's answer). */
  answer: string | undefined;
  paths: SelfConsistencyPath[];
}

/**
 * Samples `samples` completions of `request` (its prompt, maxTokens and stop; temperature and seed from the
 * options), extracts each answer with `extract` (which may be async, e.g. a second model call), and votes.
 */
export async function selfConsistency(
  lm: LanguageModel,
  request: GenerateRequest,
  extract: (text: string, sampleIndex: number) => string | undefined | Promise<string | undefined>,
  options: SelfConsistencyOptions = {},
): Promise<SelfConsistencyResult> {
  const samples = Math.min(1000, options.samples ?? 10);
  const wantLogprobs = (options.weighted ?? true) && lm.capabilities.logprobs;
  const sampled: GenerateRequest = {
    ...request,
    n: samples,
    temperature: options.temperature ?? 0.7,
    seed: options.seed ?? request.seed ?? 0,
  };
  if (options.topP !== undefined) sampled.topP = options.topP;
  if (wantLogprobs) sampled.logprobs = 0;
  else delete sampled.logprobs;
  const response = await generateSamples(lm, sampled, {
    concurrency: options.concurrency ?? 4,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const paths: SelfConsistencyPath[] = [];
  for (const [index, choice] of response.choices.entries()) {
    // in sample order, one at a time: an extractor may itself call the model (zero-shot CoT's stage 2)
    const path: SelfConsistencyPath = { text: choice.text, answer: await extract(choice.text, index) };
    const weight = meanTokenProbability(choice);
    if (weight !== undefined) path.weight = weight;
    paths.push(path);
  }
  const votes = aggregateVotes(paths);
  return { ...votes, answer: votes.majority, paths };
}
