// Discrete prompt search by reinforcement learning, after RLPrompt (Deng et al., 2022). A policy writes short
// prompts of `promptLength` words; the task model, given each prompt with training examples, yields a reward
// (accuracy, or RLPrompt's piecewise probability gap on the gold label); rewards are z-normalised within each
// batch and the policy is trained by REINFORCE. Returns the best prompt found and the reward curve.
//
// The policy here is tabular: one categorical distribution over `vocabulary` per position (RLPrompt uses a
// frozen small LM with a trained MLP head; a tabular policy is the same algorithm without the engine, and a
// local-engine policy can replace it behind `PromptPolicy`). Requests are bounded by
// steps x batchSize x examplesPerStep x candidates.

import { AdaptlmError } from "../errors.js";
import type { CallOptions, LanguageModel } from "../lm/language-model.js";
import { labelProbabilities } from "./calibration.js";
import {
  type Candidate,
  type ClassificationMethod,
  chooseClassificationMethod,
  classify,
} from "./classification.js";
import type { LabelledExample } from "./example.js";
import { createRng, type Rng, shuffled } from "./random.js";

export class RlPromptError extends AdaptlmError {
  constructor(message: string) {
    super("PROMPT_RL", message);
  }
}

/** A distribution over discrete prompts that can be sampled and nudged by a policy gradient. */
export interface PromptPolicy {
  sample(rng: Rng): number[];
  /** REINFORCE step: for each sampled sequence and its advantage, raise (or lower) its log-probability. */
  update(samples: readonly number[][], advantages: readonly number[], learningRate: number): void;
  /** The most likely sequence. */
  mode(): number[];
  /** Probabilities per position (for inspection and tests). */
  probabilities(): number[][];
}

/** One independent softmax over the vocabulary per position, logits initialised to 0 (uniform). */
export class TabularPromptPolicy implements PromptPolicy {
  private readonly logits: Float64Array[];

  constructor(
    readonly vocabularySize: number,
    readonly length: number,
  ) {
    this.logits = Array.from({ length }, () => new Float64Array(vocabularySize));
  }

  probabilities(): number[][] {
    return this.logits.map((row) => softmax(row));
  }

  sample(rng: Rng): number[] {
    return this.probabilities().map((probabilities) => {
      let u = rng();
      for (let v = 0; v < probabilities.length; v++) {
        u -= probabilities[v];
        if (u < 0) return v;
      }
      return probabilities.length - 1;
    });
  }

  update(samples: readonly number[][], advantages: readonly number[], learningRate: number): void {
    const probabilities = this.probabilities();
    for (let position = 0; position < this.length; position++) {
      const row = this.logits[position];
      const gradient = new Float64Array(this.vocabularySize);
      samples.forEach((sample, b) => {
        // d log softmax(z)[chosen] / dz_v = 1[v = chosen] - p_v
        for (let v = 0; v < this.vocabularySize; v++) {
          gradient[v] += advantages[b] * ((v === sample[position] ? 1 : 0) - probabilities[position][v]);
        }
      });
      for (let v = 0; v < this.vocabularySize; v++) row[v] += (learningRate * gradient[v]) / samples.length;
    }
  }

  mode(): number[] {
    return this.logits.map((row) => {
      let best = 0;
      for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
      return best;
    });
  }
}

function softmax(logits: ArrayLike<number>): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const exps = Array.from({ length: logits.length }, (_, i) => Math.exp(logits[i] - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

export interface RlPromptOptions extends CallOptions {
  /** The words prompts are made of. */
  vocabulary: readonly string[];
  /** Words per prompt. Default 5. */
  promptLength?: number;
  /** Training examples (a batch of `examplesPerStep` is drawn from them each step). */
  examples: readonly LabelledExample[];
  /** The task model's prompt for a discrete prompt and an example (the prompt text is the words joined by spaces). */
  buildPrompt: (prompt: string, example: LabelledExample) => string;
  /** The answer candidates of an example (labels with their verbalised continuations). */
  candidates: (example: LabelledExample) => Candidate[];
  /** Default 20. */
  steps?: number;
  /** Prompts sampled per step. Default 4. */
  batchSize?: number;
  /** Default 8 (all when fewer). */
  examplesPerStep?: number;
  /** Default 1. */
  learningRate?: number;
  /** Default "margin". */
  reward?: "accuracy" | "margin";
  /** RLPrompt's piecewise reward weights: gap x correctWeight when right, gap x incorrectWeight when wrong. Defaults 200 and 180. */
  correctWeight?: number;
  incorrectWeight?: number;
  /** "margin" needs label probabilities: "score" or "token-logprobs". Default by capability. */
  method?: ClassificationMethod;
  seed?: number;
  policy?: PromptPolicy;
  onStep?: (step: RlStep) => void;
}

export interface RlStep {
  step: number;
  prompts: string[];
  rewards: number[];
  meanReward: number;
}

export interface RlPromptResult {
  bestPrompt: string;
  bestReward: number;
  /** The policy's most likely prompt at the end. */
  finalPrompt: string;
  /** Mean reward of the sampled prompts, per step. */
  rewardCurve: number[];
  steps: RlStep[];
}

export async function searchPromptRl(lm: LanguageModel, options: RlPromptOptions): Promise<RlPromptResult> {
  const vocabulary = options.vocabulary;
  if (vocabulary.length === 0) throw new RlPromptError("RL prompt search needs a non-empty vocabulary");
  if (options.examples.length === 0) throw new RlPromptError("RL prompt search needs training examples");
  const length = options.promptLength ?? 5;
  const policy = options.policy ?? new TabularPromptPolicy(vocabulary.length, length);
  const rng = createRng(options.seed ?? 0);
  const steps = options.steps ?? 20;
  const batchSize = options.batchSize ?? 4;
  const examplesPerStep = Math.min(options.examplesPerStep ?? 8, options.examples.length);
  const rewardKind = options.reward ?? "margin";
  const method = options.method ?? chooseClassificationMethod(lm.capabilities);
  if (rewardKind === "margin" && method === "generation") {
    throw new RlPromptError(
      'the "margin" reward needs label probabilities: use a backend with score or logprobs, or reward "accuracy"',
    );
  }
  const callOptions: CallOptions = options.signal ? { signal: options.signal } : {};
  const toText = (sequence: readonly number[]): string =>
    sequence.map((index) => vocabulary[index]).join(" ");

  const rewardOf = async (prompt: string, batch: readonly LabelledExample[]): Promise<number> => {
    let total = 0;
    for (const example of batch) {
      const candidates = options.candidates(example);
      const result = await classify(lm, options.buildPrompt(prompt, example), candidates, {
        method,
        ...callOptions,
      });
      const correct = result.label === example.label;
      if (rewardKind === "accuracy") {
        total += correct ? 1 : 0;
        continue;
      }
      const probabilities = labelProbabilities(result.logprobs ?? candidates.map(() => 0));
      const goldIndex = candidates.findIndex((candidate) => candidate.label === example.label);
      if (goldIndex < 0)
        throw new RlPromptError(`example label "${example.label}" is not among its candidates`);
      let bestOther = 0;
      probabilities.forEach((probability, i) => {
        if (i !== goldIndex) bestOther = Math.max(bestOther, probability);
      });
      const gap = probabilities[goldIndex] - bestOther;
      total += gap * (correct ? (options.correctWeight ?? 200) : (options.incorrectWeight ?? 180));
    }
    return total / batch.length;
  };

  let bestPrompt = "";
  let bestReward = Number.NEGATIVE_INFINITY;
  const history: RlStep[] = [];
  for (let step = 0; step < steps; step++) {
    const batch = shuffled(options.examples, rng).slice(0, examplesPerStep);
    const samples = Array.from({ length: batchSize }, () => policy.sample(rng));
    const prompts = samples.map(toText);
    const memo = new Map<string, number>();
    const rewards: number[] = [];
    for (const prompt of prompts) {
      const reward = memo.get(prompt) ?? (await rewardOf(prompt, batch));
      memo.set(prompt, reward);
      rewards.push(reward);
      if (reward > bestReward) {
        bestReward = reward;
        bestPrompt = prompt;
      }
    }
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    const std = Math.sqrt(rewards.reduce((sum, reward) => sum + (reward - mean) ** 2, 0) / rewards.length);
    const advantages = rewards.map((reward) => (std > 1e-12 ? (reward - mean) / std : 0));
    policy.update(samples, advantages, options.learningRate ?? 1);
    const record = { step, prompts, rewards, meanReward: mean };
    history.push(record);
    options.onStep?.(record);
  }
  return {
    bestPrompt,
    bestReward,
    finalPrompt: toText(policy.mode()),
    rewardCurve: history.map((record) => record.meanReward),
    steps: history,
  };
}
