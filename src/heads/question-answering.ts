// Extractive question answering, as transformers' BertForQuestionAnswering and its run_qa example do it.
//
// Model: `bert` (no pooler) -> `qa_outputs` Linear(d, 2) at every position; channel 0 = start logits,
// channel 1 = end logits [batch, seq]. Loss = (CE(start) + CE(end)) / 2 where each softmax runs over ALL
// positions, padding included (transformers does not mask them); positions outside [0, seq) are ignored
// (transformers clamps them to seq and ignores that index).
//
// Long contexts: `questionAnsweringFeatures` cuts the context into windows `[CLS] question [SEP] window
// [SEP]` whose consecutive windows overlap by `docStride` tokens (HF's `stride`), keeping each token's
// character offsets; `decodeAnswer` scores every span start <= end within `maxAnswerLength` tokens inside
// the context part of every window (start logit + end logit) and maps the best back to characters.

import type { ModelConfig } from "../io/hf-config.js";
import { BertModel } from "../models/bert.js";
import type { ModelInputs } from "../models/model-inputs.js";
import type { Embedding, Linear } from "../nn/layers.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { headLinear } from "./sequence-classification.js";
import {
  type ForwardOptions,
  requireTarget,
  TaskModel,
  TaskModelError,
  type TaskOutputs,
  type TaskTargets,
  type TaskType,
} from "./task-model.js";

export class BertForQuestionAnswering extends TaskModel {
  readonly taskType: TaskType = "QUESTION_ANS";
  readonly headModules = ["qa_outputs"] as const;
  readonly backbonePrefix: string;
  readonly bert: BertModel;
  readonly qaOutputs: Linear;

  constructor(
    readonly config: ModelConfig,
    options: { seed?: number } = {},
  ) {
    super();
    const seed = options.seed ?? 0;
    this.backbonePrefix = config.baseModelPrefix;
    this.bert = this.registerModule(config.baseModelPrefix, new BertModel(config, { seed, pooler: false }));
    this.qaOutputs = this.registerModule("qa_outputs", headLinear(config, 2, seed));
  }

  wordEmbeddings(): Embedding {
    return this.bert.embeddings.getModule("word_embeddings") as Embedding;
  }

  /** start_logits and end_logits [batch, seq] (real positions only when virtual tokens were prepended). */
  forwardOutputs(inputs: ModelInputs, options: ForwardOptions = {}): TaskOutputs {
    let hidden = this.bert.forward(inputs).lastHiddenState; // [batch, seq, hidden]
    const p = options.virtualTokens ?? 0;
    if (p > 0) hidden = T.slice(hidden, 1, p);
    const [batch, seq] = hidden.shape;
    const logits = this.forwardChild("qa_outputs", hidden); // [batch, seq, 2]
    const channel = (c: number) => T.reshape(T.slice(logits, 2, c, c + 1), [batch, seq]);
    return { start_logits: channel(0), end_logits: channel(1) };
  }

  loss(outputs: TaskOutputs, targets: TaskTargets): Tensor {
    return questionAnsweringLoss(
      outputs.start_logits,
      outputs.end_logits,
      requireTarget(targets, "start_positions", "question answering"),
      requireTarget(targets, "end_positions", "question answering"),
    );
  }
}

/** (CE(start) + CE(end)) / 2 over all positions; positions outside the sequence are ignored. */
export function questionAnsweringLoss(
  startLogits: Tensor,
  endLogits: Tensor,
  startPositions: Tensor,
  endPositions: Tensor,
): Tensor {
  const seq = startLogits.shape[1];
  const clamp = (positions: Tensor) =>
    T.tensor(
      Array.from(positions.ints.subarray(0, positions.size), (p) => (p >= 0 && p < seq ? p : T.IGNORE_INDEX)),
      [positions.size],
      "int32",
    );
  const start = T.crossEntropy(startLogits, clamp(startPositions));
  const end = T.crossEntropy(endLogits, clamp(endPositions));
  return T.mulScalar(T.add(start, end), 0.5);
}

/** One window of a (question, context) example. */
export interface QaFeature {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
  /** Character span in the context of each token; null outside the context (question, specials, padding). */
  offsets: ([number, number] | null)[];
  /** Index of the example this window came from. */
  exampleIndex: number;
  /** Training targets: the answer's token span in this window, or 0/0 ([CLS]) when it is not inside. */
  startPosition: number;
  endPosition: number;
}

export interface QaExample {
  question: string;
  context: string;
  /** Character start of the answer in the context and its text (training only). */
  answerStart?: number;
  answerText?: string;
}

export interface QaFeatureOptions {
  /** Window length in tokens, specials included (HF max_seq_length, 384 by default). */
  maxLength?: number;
  /** Tokens shared by consecutive windows (HF doc_stride, 128 by default). */
  docStride?: number;
  /** Pad every window to maxLength (default true). */
  padToMaxLength?: boolean;
}

/**
 * Splits each example into windows `[CLS] question [SEP] context-window [SEP]` (token types 0 then 1), as
 * HF's prepare_train_features / prepare_validation_features do with truncation "only_second".
 */
export function questionAnsweringFeatures(
  tokenizer: Tokenizer,
  examples: readonly QaExample[],
  options: QaFeatureOptions = {},
): QaFeature[] {
  const maxLength = options.maxLength ?? 384;
  const docStride = options.docStride ?? 128;
  const cls = tokenizer.clsTokenId;
  const sep = tokenizer.sepTokenId;
  const pad = tokenizer.padTokenId ?? 0;
  if (cls === undefined || sep === undefined) {
    throw new TaskModelError(
      "QA_TOKENIZER",
      "extractive QA windows need a tokenizer with [CLS] and [SEP] tokens (a BERT-style tokenizer)",
    );
  }
  const features: QaFeature[] = [];
  examples.forEach((example, exampleIndex) => {
    const question = tokenizer.encode(example.question, { addSpecialTokens: false });
    const context = tokenizer.encode(example.context, { addSpecialTokens: false });
    const window = maxLength - question.ids.length - 3;
    if (window <= 0) {
      throw new TaskModelError(
        "QA_QUESTION_TOO_LONG",
        `question ${exampleIndex} has ${question.ids.length} tokens, leaving no room for context in ${maxLength}-token windows: raise maxLength`,
      );
    }
    if (docStride >= window) {
      throw new TaskModelError(
        "QA_STRIDE",
        `doc stride ${docStride} must be smaller than the context window (${window} tokens): lower docStride or raise maxLength`,
      );
    }
    const answerEnd =
      example.answerStart !== undefined && example.answerText !== undefined
        ? example.answerStart + example.answerText.length
        : null;
    for (let begin = 0; ; begin += window - docStride) {
      const end = Math.min(begin + window, context.ids.length);
      const inputIds = [cls, ...question.ids, sep];
      const tokenTypeIds = inputIds.map(() => 0);
      const offsets: ([number, number] | null)[] = inputIds.map(() => null);
      const contextStart = inputIds.length;
      for (let t = begin; t < end; t++) {
        inputIds.push(context.ids[t]);
        tokenTypeIds.push(1);
        offsets.push(context.offsets[t]);
      }
      inputIds.push(sep);
      tokenTypeIds.push(1);
      offsets.push(null);
      const attentionMask = inputIds.map(() => 1);
      if (options.padToMaxLength ?? true) {
        while (inputIds.length < maxLength) {
          inputIds.push(pad);
          tokenTypeIds.push(0);
          attentionMask.push(0);
          offsets.push(null);
        }
      }
      let startPosition = 0;
      let endPosition = 0;
      if (answerEnd !== null && example.answerStart !== undefined) {
        const contextEnd = contextStart + (end - begin) - 1;
        const first = offsets[contextStart];
        const last = offsets[contextEnd];
        if (first && last && first[0] <= example.answerStart && last[1] >= answerEnd) {
          let s = contextStart;
          while (s <= contextEnd && (offsets[s] as [number, number])[0] <= example.answerStart) s++;
          let e = contextEnd;
          while (e >= contextStart && (offsets[e] as [number, number])[1] >= answerEnd) e--;
          startPosition = s - 1;
          endPosition = e + 1;
        }
      }
      features.push({
        inputIds,
        tokenTypeIds,
        attentionMask,
        offsets,
        exampleIndex,
        startPosition,
        endPosition,
      });
      if (end >= context.ids.length) break;
    }
  });
  return features;
}

export interface DecodedAnswer {
  text: string;
  /** Character span in the context. */
  start: number;
  end: number;
  score: number;
  /** The window the answer came from. */
  featureIndex: number;
}

/**
 * Best answer span for one example over its windows: every start <= end inside the context of a window,
 * at most maxAnswerLength tokens, scored start_logit + end_logit. Returns an empty answer when no window
 * has a context token.
 */
export function decodeAnswer(
  context: string,
  windows: readonly {
    offsets: readonly ([number, number] | null)[];
    startLogits: ArrayLike<number>;
    endLogits: ArrayLike<number>;
  }[],
  options: { maxAnswerLength?: number } = {},
): DecodedAnswer {
  const maxAnswerLength = options.maxAnswerLength ?? 30;
  let best: DecodedAnswer = { text: "", start: 0, end: 0, score: Number.NEGATIVE_INFINITY, featureIndex: -1 };
  windows.forEach((w, featureIndex) => {
    const n = w.offsets.length;
    for (let s = 0; s < n; s++) {
      const so = w.offsets[s];
      if (!so) continue;
      for (let e = s; e < Math.min(n, s + maxAnswerLength); e++) {
        const eo = w.offsets[e];
        if (!eo) continue;
        const score = w.startLogits[s] + w.endLogits[e];
        if (score > best.score)
          best = { text: context.slice(so[0], eo[1]), start: so[0], end: eo[1], score, featureIndex };
      }
    }
  });
  return best;
}

/** SQuAD's normalize_answer: lower case, no punctuation, no articles (a, an, the), single spaces. */
export function normalizeAnswer(text: string): string {
  const lower = text.toLowerCase();
  const noPunctuation = Array.from(lower)
    .filter((ch) => !SQUAD_PUNCTUATION.has(ch))
    .join("");
  const noArticles = noPunctuation.replace(/\b(a|an|the)\b/g, " ");
  return noArticles.split(/\s+/).filter(Boolean).join(" ");
}

/** Python's string.punctuation, which the SQuAD v1.1 script removes. */
const SQUAD_PUNCTUATION = new Set(Array.from("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"));

/** 1 when the normalised prediction equals a normalised gold answer, else 0 (max over golds). */
export function exactMatch(prediction: string, golds: readonly string[]): number {
  const p = normalizeAnswer(prediction);
  return golds.some((g) => normalizeAnswer(g) === p) ? 1 : 0;
}

/** Token-overlap F1 of normalised answers, max over golds (SQuAD v1.1 / v2 scoring). */
export function tokenF1(prediction: string, golds: readonly string[]): number {
  const score = (gold: string) => {
    const p = normalizeAnswer(prediction).split(" ").filter(Boolean);
    const g = normalizeAnswer(gold).split(" ").filter(Boolean);
    if (p.length === 0 || g.length === 0) return p.length === g.length ? 1 : 0;
    const counts = new Map<string, number>();
    for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
    let common = 0;
    for (const t of p) {
      const c = counts.get(t) ?? 0;
      if (c > 0) {
        common++;
        counts.set(t, c - 1);
      }
    }
    if (common === 0) return 0;
    const precision = common / p.length;
    const recall = common / g.length;
    return (2 * precision * recall) / (precision + recall);
  };
  return golds.length === 0 ? 0 : Math.max(...golds.map(score));
}

/** Mean exact match and F1 over examples, in percent (as the SQuAD script reports them). */
export function squadScores(
  predictions: readonly string[],
  golds: readonly (readonly string[])[],
): { exactMatch: number; f1: number } {
  if (predictions.length !== golds.length)
    throw new RangeError(`squadScores: ${predictions.length} predictions but ${golds.length} gold lists`);
  if (predictions.length === 0) return { exactMatch: 0, f1: 0 };
  let em = 0;
  let f1 = 0;
  predictions.forEach((p, i) => {
    em += exactMatch(p, golds[i]);
    f1 += tokenF1(p, golds[i]);
  });
  return { exactMatch: (100 * em) / predictions.length, f1: (100 * f1) / predictions.length };
}
