// Classification and multiple choice over the LanguageModel interface, three ways, chosen by capability:
//   - "score": rank the candidates' continuations by log-likelihood (lm-evaluation-harness style): `acc` takes
//     the highest sum of logprobs, `acc_norm` the highest logprob per character of the continuation;
//   - "token-logprobs": one greedy token with top logprobs; each candidate gets the best logprob among top tokens
//     that start its continuation (servers without echo). Candidates should differ in their first token, and a
//     candidate whose first token is outside the top k gets -Infinity;
//   - "generation": generate greedily and parse which candidate the text names.

import { AdaptlmError } from "../errors.js";
import type { CallOptions, LanguageModel, LanguageModelCapabilities } from "../lm/language-model.js";

export class ClassificationError extends AdaptlmError {
  constructor(message: string) {
    super("PROMPT_CLASSIFICATION", message);
  }
}

export interface Candidate {
  /** The label (class name or choice id) reported when this candidate wins. */
  label: string;
  /** The exact text appended to the prompt for this candidate, usually with its leading space: " positive". */
  continuation: string;
}

export type ClassificationMethod = "score" | "token-logprobs" | "generation";

export interface ClassificationResult {
  method: ClassificationMethod;
  /** The predicted label (argmax of logprobs; for generation, the parsed label); undefined if none was found. */
  label: string | undefined;
  /** The acc_norm prediction (argmax of logprob / continuation length); equals `label` for generation. */
  labelNormalised: string | undefined;
  /** Per candidate, in the order given: log-likelihood ("score"), first-token logprob ("token-logprobs"). */
  logprobs?: number[];
  /** What the model generated ("token-logprobs" and "generation"). */
  generated?: string;
}

/** The best method a backend allows: score, else token logprobs, else generation. */
export function chooseClassificationMethod(capabilities: LanguageModelCapabilities): ClassificationMethod {
  if (capabilities.score) return "score";
  if (capabilities.logprobs && capabilities.topLogprobs > 0) return "token-logprobs";
  return "generation";
}

export interface ClassifyOptions extends CallOptions {
  /** Default: chooseClassificationMethod(lm.capabilities). */
  method?: ClassificationMethod;
  /** For "generation". Default 16. */
  maxTokens?: number;
  /** For "generation". Default ["\n"]. */
  stop?: string[];
}

export async function classify(
  lm: LanguageModel,
  prompt: string,
  candidates: readonly Candidate[],
  options: ClassifyOptions = {},
): Promise<ClassificationResult> {
  if (candidates.length === 0) throw new ClassificationError("classification needs at least one candidate");
  const method = options.method ?? chooseClassificationMethod(lm.capabilities);
  const callOptions: CallOptions = options.signal ? { signal: options.signal } : {};
  if (method === "score") {
    // all candidates at once: the backend's own concurrency limit bounds what is in flight
    const scores = await Promise.all(
      candidates.map((candidate) => lm.score(prompt, candidate.continuation, callOptions)),
    );
    return rankByLogprobs(
      candidates,
      scores.map((score) => score.logprob),
      "score",
    );
  }
  if (method === "token-logprobs") {
    const topK = Math.max(1, lm.capabilities.topLogprobs);
    const response = await lm.generate({ prompt, maxTokens: 1, temperature: 0, logprobs: topK }, callOptions);
    const first = response.choices[0].logprobs?.[0];
    const top = first?.topLogprobs ?? (first ? [{ token: first.token, logprob: first.logprob }] : []);
    const logprobs = candidates.map((candidate) => {
      const target = candidate.continuation.trim().toLowerCase();
      let best = Number.NEGATIVE_INFINITY;
      for (const entry of top) {
        const token = entry.token.trim().toLowerCase();
        if (token !== "" && target.startsWith(token)) best = Math.max(best, entry.logprob);
      }
      return best;
    });
    const result = rankByLogprobs(candidates, logprobs, "token-logprobs");
    result.generated = response.choices[0].text;
    if (logprobs.every((value) => value === Number.NEGATIVE_INFINITY)) {
      result.label = parseCandidate(response.choices[0].text, candidates);
      result.labelNormalised = result.label;
    }
    return result;
  }
  const response = await lm.generate(
    { prompt, maxTokens: options.maxTokens ?? 16, temperature: 0, stop: options.stop ?? ["\n"] },
    callOptions,
  );
  const generated = response.choices[0].text;
  const label = parseCandidate(generated, candidates);
  return { method: "generation", label, labelNormalised: label, generated };
}

/** argmax of logprobs (acc) and of logprob per character (acc_norm); ties go to the earlier candidate. */
export function rankByLogprobs(
  candidates: readonly Candidate[],
  logprobs: readonly number[],
  method: ClassificationMethod,
): ClassificationResult {
  let best = -1;
  let bestNormalised = -1;
  for (let i = 0; i < candidates.length; i++) {
    if (logprobs[i] === Number.NEGATIVE_INFINITY) continue;
    if (best < 0 || logprobs[i] > logprobs[best]) best = i;
    const normalised = logprobs[i] / Math.max(1, candidates[i].continuation.length);
    if (
      bestNormalised < 0 ||
      normalised > logprobs[bestNormalised] / Math.max(1, candidates[bestNormalised].continuation.length)
    ) {
      bestNormalised = i;
    }
  }
  return {
    method,
    label: best >= 0 ? candidates[best].label : undefined,
    labelNormalised: bestNormalised >= 0 ? candidates[bestNormalised].label : undefined,
    logprobs: [...logprobs],
  };
}

/**
 * The candidate a generated text names: the one whose words (continuation, trimmed, case-insensitive, on word
 * boundaries) appear earliest; at equal positions the longer wins ("not good" over "good").
 */
export function parseCandidate(text: string, candidates: readonly Candidate[]): string | undefined {
  const lower = text.toLowerCase();
  let bestLabel: string | undefined;
  let bestIndex = Number.POSITIVE_INFINITY;
  let bestLength = 0;
  for (const candidate of candidates) {
    const words = candidate.continuation.trim().toLowerCase();
    if (words === "") continue;
    const pattern = new RegExp(
      `(?<![\\p{L}\\p{N}])${words.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\p{L}\\p{N}])`,
      "u",
    );
    const match = pattern.exec(lower);
    if (!match) continue;
    if (match.index < bestIndex || (match.index === bestIndex && words.length > bestLength)) {
      bestLabel = candidate.label;
      bestIndex = match.index;
      bestLength = words.length;
    }
  }
  return bestLabel;
}

export interface MultipleChoiceScores {
  /** Fraction with `label` = gold. */
  acc: number;
  /** Fraction with `labelNormalised` = gold. */
  accNorm: number;
  count: number;
}

/** lm-evaluation-harness acc and acc_norm over results and their gold labels. */
export function multipleChoiceAccuracy(
  results: readonly ClassificationResult[],
  golds: readonly string[],
): MultipleChoiceScores {
  if (results.length !== golds.length) {
    throw new ClassificationError(`${results.length} results but ${golds.length} gold labels`);
  }
  if (results.length === 0) return { acc: 0, accNorm: 0, count: 0 };
  let correct = 0;
  let correctNorm = 0;
  results.forEach((result, i) => {
    if (result.label === golds[i]) correct++;
    if (result.labelNormalised === golds[i]) correctNorm++;
  });
  return { acc: correct / results.length, accNorm: correctNorm / results.length, count: results.length };
}
