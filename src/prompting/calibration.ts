// Contextual calibration (Zhao et al., 2021): the prompt alone (its template, demonstrations and their labels)
// biases the model towards some labels. Estimate that bias by asking with content-free inputs ("N/A", "",
// "[MASK]") in place of the real input, average the label probabilities into p_cf, and rescale every real
// prediction by W = diag(p_cf)^-1 (then renormalise): q = normalise(p / p_cf).

import type { CallOptions, LanguageModel } from "../lm/language-model.js";
import {
  type Candidate,
  ClassificationError,
  type ClassificationMethod,
  classify,
} from "./classification.js";
import type { LabelledExample } from "./example.js";

export const CONTENT_FREE_INPUTS: readonly string[] = ["N/A", "", "[MASK]"];

/** Softmax of the candidates' logprobs: their probabilities renormalised over the candidate set. */
export function labelProbabilities(logprobs: readonly number[]): number[] {
  const max = Math.max(...logprobs);
  if (max === Number.NEGATIVE_INFINITY) return logprobs.map(() => 1 / logprobs.length);
  const exps = logprobs.map((logprob) => Math.exp(logprob - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

/** The example with every input field replaced by a content-free text. */
export function contentFreeExample(example: LabelledExample, text: string): LabelledExample {
  const fields: Record<string, string> = {};
  for (const name of Object.keys(example.fields)) fields[name] = text;
  return { fields, label: example.label };
}

export interface ContentFreeOptions extends CallOptions {
  inputs?: readonly string[];
  /** "score" or "token-logprobs": calibration needs label probabilities, so not "generation". */
  method?: Exclude<ClassificationMethod, "generation">;
}

/** p_cf: the mean label distribution over the content-free prompts `promptFor(text)`. */
export async function estimateContentFreePrior(
  lm: LanguageModel,
  promptFor: (contentFreeText: string) => string,
  candidates: readonly Candidate[],
  options: ContentFreeOptions = {},
): Promise<number[]> {
  const inputs = options.inputs ?? CONTENT_FREE_INPUTS;
  if (inputs.length === 0)
    throw new ClassificationError("contextual calibration needs at least one content-free input");
  const prior = candidates.map(() => 0);
  for (const input of inputs) {
    const result = await classify(lm, promptFor(input), candidates, {
      method: options.method ?? (lm.capabilities.score ? "score" : "token-logprobs"),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!result.logprobs)
      throw new ClassificationError(`calibration needs label logprobs; method ${result.method} gave none`);
    labelProbabilities(result.logprobs).forEach((probability, i) => {
      prior[i] += probability / inputs.length;
    });
  }
  return prior;
}

/** q = normalise(p / p_cf). */
export function calibrateProbabilities(probabilities: readonly number[], prior: readonly number[]): number[] {
  if (probabilities.length !== prior.length) {
    throw new ClassificationError(`${probabilities.length} probabilities but a prior of ${prior.length}`);
  }
  const scaled = probabilities.map((p, i) => (prior[i] > 0 ? p / prior[i] : 0));
  const sum = scaled.reduce((a, b) => a + b, 0);
  return sum > 0 ? scaled.map((value) => value / sum) : scaled;
}

/** The calibrated prediction for one result's logprobs: argmax of q, with q itself. */
export function calibratedPrediction(
  logprobs: readonly number[],
  candidates: readonly Candidate[],
  prior: readonly number[],
): { label: string; probabilities: number[] } {
  const probabilities = calibrateProbabilities(labelProbabilities(logprobs), prior);
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
  return { label: candidates[best].label, probabilities };
}
