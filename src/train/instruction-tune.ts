// Instruction tuning (FLAN, Wei et al. 2022; T0, Sanh et al. 2022) in miniature: a causal LM is fine-tuned
// (fully or through LoRA) on instruction examples of some task clusters, then it and the untuned model are
// evaluated zero-shot on clusters held out of tuning, and on the tuned clusters' test records, through the
// same templates.
//
// Loss: only the target tokens (answer + EOS) count; the prompt positions carry -100 labels, as
// transformers' DataCollatorForCompletionOnlyLM, so tuning teaches answering, not re-writing the prompt.
// Batching, AdamW, the schedule, clipping, atomic checkpoints and resume are the Trainer's (trainer.ts), over
// a CausalLMTaskModel; the Trainer's NON_FINITE_LOSS is re-thrown as this module's typed error.
//
// Scoring: classification by ranking the options' log-likelihood given the prompt (FLAN's rank
// classification; lm-evaluation-harness' acc), generation tasks by exact match of the greedy answer cut at
// the first newline. Held-out clusters are scored on templates never used in tuning; tuned clusters on the
// tuning templates (test records only). Per cluster: pooled accuracy with a bootstrap interval, the mean and
// spread of the per-template accuracies, and the tuned - untuned difference with a paired bootstrap interval.

import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { AdaptlmError } from "../errors.js";
import { CausalLMTaskModel } from "../heads/causal-lm.js";
import { writeFileAtomic } from "../io/atomic-file.js";
import type { ModelConfig } from "../io/hf-config.js";
import { writeSafetensors } from "../io/safetensors.js";
import { generate } from "../models/generate.js";
import type { GPT2LMHeadModel } from "../models/gpt2.js";
import type { LlamaForCausalLM } from "../models/llama.js";
import { eosTokenIds, type LoadedModel, requireTokenizer } from "../models/load-model.js";
import { scoreContinuations } from "../models/score.js";
import { causalModel, encodePrompt } from "../models/text-generation.js";
import { saveAdapter } from "../peft/adapter-store.js";
import { LoraAdapter } from "../peft/lora.js";
import * as T from "../tensor/index.js";
import { accuracyInterval, bootstrapInterval } from "./bootstrap.js";
import type { TrainExample } from "./collate.js";
import {
  type ClusterName,
  type InstructionExample,
  instructionExamples,
  shuffleExamples,
  TEMPLATES_PER_TASK,
  TUNING_TEMPLATES,
  tasksOfCluster,
} from "./instruction-data.js";
import { tokenizerFilesOf } from "./pretrain.js";
import { Trainer, type TrainerEvent, TrainingError } from "./trainer.js";

/** Codes: BAD_OPTION, OVERLAPPING_CLUSTERS, CHECKPOINT_EXISTS, NON_FINITE_LOSS, NO_EOS. */
export class InstructionTuneError extends AdaptlmError {}

export type InstructionTuneMethod = "full" | "lora";

export type InstructionTuneEvent =
  | {
      type: "data";
      trainExamples: number;
      evalExamples: number;
      trainClusters: ClusterName[];
      heldoutClusters: ClusterName[];
    }
  | { type: "eval"; phase: "untuned" | "tuned"; done: number; total: number }
  | { type: "train"; event: TrainerEvent }
  | { type: "saved"; dir: string; kind: "model" | "adapter" };

export interface InstructionTuneOptions {
  /** A loaded causal LM (it is tuned in place). */
  loaded: LoadedModel;
  trainClusters: readonly ClusterName[];
  heldoutClusters: readonly ClusterName[];
  /** Default "full". */
  method?: InstructionTuneMethod;
  /** Optimizer steps. Default 300. */
  steps?: number;
  /** Default 16. */
  batchSize?: number;
  /** Default 3e-4 for full fine-tuning, 2e-3 for LoRA. */
  learningRate?: number;
  /** Training records per task (each rendered through one tuning template). Default 200. */
  examplesPerTask?: number;
  /** Test records per task. Default 40. */
  evalExamplesPerTask?: number;
  /** Templates scored per cluster (spread evenly over the tuning or the unseen templates). Default 3. */
  evalTemplates?: number;
  /** Default 42. */
  seed?: number;
  /** LoRA rank and alpha. Default 8 and 16. */
  loraRank?: number;
  loraAlpha?: number;
  /** Longest training row in tokens (prompts are cut from the left). Default min(256, model positions). */
  maxLength?: number;
  /** Tuned model / adapter, checkpoints and results.json go here. */
  outputDir: string;
  /** Continue from outputDir/tuning/checkpoint. Default false: an existing checkpoint is an error. */
  resume?: boolean;
  /** Checkpoint every N steps (and at the end). Default steps / 4. */
  checkpointEvery?: number;
  /** Skip scoring the untuned model (its numbers are then null). Default false. */
  skipUntuned?: boolean;
  /** Written to the model card / adapter config. */
  modelName?: string;
  onEvent?: (event: InstructionTuneEvent) => void;
}

export interface TemplateScores {
  /** Pooled over every (record, template) pair of the cluster. */
  accuracy: number;
  low: number;
  high: number;
  correct: number;
  total: number;
  /** Accuracy per template id. */
  perTemplate: Record<string, number>;
  templateMean: number;
  /** Sample standard deviation over templates (0 with one template). */
  templateStd: number;
  templateMin: number;
  templateMax: number;
}

export interface ClusterResult {
  cluster: ClusterName;
  heldOut: boolean;
  tasks: string[];
  /** Template indices scored. */
  templates: number[];
  /** Scored (record, template) pairs. */
  examples: number;
  untuned: TemplateScores | null;
  tuned: TemplateScores;
  /** tuned - untuned accuracy with a paired bootstrap interval; null without untuned scores. */
  delta: { value: number; low: number; high: number } | null;
}

export interface ScoredExample {
  cluster: ClusterName;
  task: string;
  templateId: string;
  answer: string;
  untuned: string | null;
  untunedCorrect: boolean | null;
  tuned: string;
  tunedCorrect: boolean;
}

export interface InstructionTuneResult {
  outputDir: string;
  method: InstructionTuneMethod;
  steps: number;
  trainExamples: number;
  trainClusters: ClusterName[];
  heldoutClusters: ClusterName[];
  /** Mean training loss of the first and the last (up to) 10 steps of this session. */
  firstLoss: number | null;
  lastLoss: number | null;
  trainableParameters: number;
  /** The tuned model folder or the adapter folder. */
  savedDir: string;
  clusters: ClusterResult[];
  examples: ScoredExample[];
  seconds: number;
}

/** One tokenized instruction example: the prompt's ids, then the target's ids with EOS. */
export interface InstructionTokens {
  promptIds: number[];
  targetIds: number[];
}

/**
 * Tokens of prompt + target as scoreText splits them: the target's tokens are those of encode(prompt +
 * target) after the prompt's own tokens when that encoding extends them (the boundary tokenized as running
 * text), else the target encoded alone. `eos` (when given) ends the target.
 */
export function encodeInstruction(
  loaded: LoadedModel,
  prompt: string,
  target: string,
  eos: number | null,
): InstructionTokens {
  const tokenizer = requireTokenizer(loaded);
  const promptIds = encodePrompt(loaded, prompt);
  const plain = tokenizer.encode(prompt).ids;
  let targetIds: number[] | null = null;
  if (plain.length > 0) {
    const whole = tokenizer.encode(prompt + target).ids;
    if (whole.length >= plain.length && plain.every((id, i) => whole[i] === id))
      targetIds = whole.slice(plain.length);
  }
  targetIds ??= tokenizer.encode(target, { addSpecialTokens: false }).ids;
  if (eos !== null) targetIds = [...targetIds, eos];
  return { promptIds, targetIds };
}

/** Keeps the first prompt token (BOS) and the end of the prompt so that prompt + target fit maxLength. */
export function fitPrompt(promptIds: readonly number[], targetLength: number, maxLength: number): number[] {
  const room = maxLength - targetLength;
  if (promptIds.length <= room) return [...promptIds];
  if (room < 2) {
    throw new InstructionTuneError(
      "BAD_OPTION",
      `a target of ${targetLength} tokens leaves no room for the prompt in ${maxLength} tokens: raise maxLength`,
    );
  }
  return [promptIds[0], ...promptIds.slice(promptIds.length - (room - 1))];
}

/** A training row: input ids = prompt + target, labels -100 on the prompt and the target's ids after it. */
export function instructionTrainExample(tokens: InstructionTokens, maxLength: number): TrainExample {
  const promptIds = fitPrompt(tokens.promptIds, tokens.targetIds.length, maxLength);
  const inputIds = [...promptIds, ...tokens.targetIds];
  const labels = [...new Array<number>(promptIds.length).fill(T.IGNORE_INDEX), ...tokens.targetIds];
  return { inputIds, labels };
}

/** The EOS id a target ends with: the model's first EOS id. */
function targetEos(loaded: LoadedModel): number {
  const ids = eosTokenIds(loaded);
  if (ids.length === 0) {
    throw new InstructionTuneError(
      "NO_EOS",
      "instruction targets end with EOS, but neither the config nor the tokenizer names an EOS token: add eos_token_id to config.json",
    );
  }
  return ids[0];
}

/**
 * Normalised generated answer: the first line, trimmed, lower case, without a leading "the answer is" /
 * "answer:" (the direct-answer format the lab models were pretrained on), a final period or quotes.
 */
export function normaliseAnswer(text: string): string {
  return text
    .split("\n")[0]
    .trim()
    .replace(/^(the answer is|answer:)\s*/i, "")
    .replace(/[.。]+$/, "")
    .replace(/^["']|["']$/g, "")
    .trim()
    .toLowerCase();
}

export interface ScoreOptions {
  maxLength: number;
  /** Generation budget for answer tasks. Default 10 tokens. */
  maxNewTokens?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Scores each example with the model as it is: classification by the option with the highest
 * log-likelihood (first on ties), generation by greedy decoding compared after normaliseAnswer.
 */
export function scoreInstructionExamples(
  loaded: LoadedModel,
  examples: readonly InstructionExample[],
  options: ScoreOptions,
): { prediction: string; correct: boolean }[] {
  const model = causalModel(loaded);
  const tokenizer = requireTokenizer(loaded);
  const stopIds = eosTokenIds(loaded);
  const maxNewTokens = options.maxNewTokens ?? 10;
  const limit = Math.min(options.maxLength, model.config.maxPositions);
  const wasTraining = model.training;
  model.eval();
  try {
    return examples.map((example, n) => {
      let out: { prediction: string; correct: boolean };
      if (example.kind === "classification") {
        const encoded = example.optionTargets.map((t) => encodeInstruction(loaded, example.prompt, t, null));
        const longest = Math.max(...encoded.map((e) => e.targetIds.length));
        const promptIds = fitPrompt(encoded[0].promptIds, longest, limit);
        const scores = scoreContinuations(
          model,
          promptIds,
          encoded.map((e) => e.targetIds),
        );
        let best = 0;
        for (let i = 1; i < scores.length; i++) if (scores[i].logprob > scores[best].logprob) best = i;
        const options = tasksOfCluster(example.cluster).find((t) => t.name === example.task)?.options ?? [];
        const prediction = options[best] ?? String(best);
        out = { prediction, correct: prediction === example.answer };
      } else {
        const promptIds = fitPrompt(encodePrompt(loaded, example.prompt), maxNewTokens, limit);
        const result = generate(model, promptIds, {
          maxNewTokens,
          eosTokenIds: stopIds,
          shouldStop: (tokens) =>
            tokenizer.decode(tokens, { skipSpecialTokens: true }).trimStart().includes("\n"),
        });
        const text = tokenizer.decode(result.tokens, { skipSpecialTokens: true });
        const prediction = normaliseAnswer(text);
        out = { prediction, correct: prediction === normaliseAnswer(example.answer) };
      }
      options.onProgress?.(n + 1, examples.length);
      return out;
    });
  } finally {
    model.train(wasTraining);
  }
}

/** `count` template indices spread evenly over [from, to). */
export function spreadTemplates(from: number, to: number, count: number): number[] {
  const available = to - from;
  const n = Math.min(count, available);
  return Array.from({ length: n }, (_, i) => from + Math.floor((i * available) / n));
}

/** Templates a cluster is scored on: tuning templates for a tuned cluster, unseen ones for a held-out one. */
export function evaluationTemplates(heldOut: boolean, count: number): number[] {
  return heldOut
    ? spreadTemplates(TUNING_TEMPLATES, TEMPLATES_PER_TASK, count)
    : spreadTemplates(0, TUNING_TEMPLATES, count);
}

/** Accuracy pooled and per template, with a seeded bootstrap interval of the pooled accuracy. */
export function templateScores(
  templateIds: readonly string[],
  correct: readonly boolean[],
  seed: number,
): TemplateScores {
  const byTemplate = new Map<string, { hits: number; n: number }>();
  templateIds.forEach((id, i) => {
    const entry = byTemplate.get(id) ?? { hits: 0, n: 0 };
    entry.n++;
    if (correct[i]) entry.hits++;
    byTemplate.set(id, entry);
  });
  const perTemplate: Record<string, number> = {};
  for (const [id, { hits, n }] of byTemplate) perTemplate[id] = hits / n;
  const values = Object.values(perTemplate);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  const variance =
    values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  const interval = accuracyInterval(correct, { seed });
  return {
    accuracy: interval.value,
    low: interval.low,
    high: interval.high,
    correct: correct.filter(Boolean).length,
    total: correct.length,
    perTemplate,
    templateMean: mean,
    templateStd: Math.sqrt(variance),
    templateMin: values.length ? Math.min(...values) : 0,
    templateMax: values.length ? Math.max(...values) : 0,
  };
}

/** tuned - untuned accuracy with a paired percentile bootstrap (the same resampled pairs for both). */
export function pairedDelta(
  untuned: readonly boolean[],
  tuned: readonly boolean[],
  seed: number,
): { value: number; low: number; high: number } {
  const pairs = untuned.map((u, i) => (tuned[i] ? 1 : 0) - (u ? 1 : 0));
  const interval = bootstrapInterval(
    pairs,
    (sample) => sample.reduce((a, b) => a + b, 0) / Math.max(1, sample.length),
    { seed },
  );
  return { value: interval.value, low: interval.low, high: interval.high };
}

function countTrainable(parameters: Iterable<T.Tensor>): number {
  const seen = new Set<T.Tensor>();
  let n = 0;
  for (const p of parameters) {
    if (seen.has(p)) continue;
    seen.add(p);
    n += p.size;
  }
  return n;
}

function checkOptions(o: InstructionTuneOptions): void {
  const positiveInt = (name: string, value: number | undefined) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw new InstructionTuneError("BAD_OPTION", `${name} must be a positive integer, got ${value}`);
  };
  positiveInt("steps", o.steps);
  positiveInt("batchSize", o.batchSize);
  positiveInt("examplesPerTask", o.examplesPerTask);
  positiveInt("evalExamplesPerTask", o.evalExamplesPerTask);
  positiveInt("evalTemplates", o.evalTemplates);
  positiveInt("loraRank", o.loraRank);
  positiveInt("maxLength", o.maxLength);
  positiveInt("checkpointEvery", o.checkpointEvery);
  if (o.learningRate !== undefined && !(o.learningRate > 0))
    throw new InstructionTuneError("BAD_OPTION", `learningRate must be positive, got ${o.learningRate}`);
  if (o.method !== undefined && o.method !== "full" && o.method !== "lora")
    throw new InstructionTuneError("BAD_OPTION", `method must be full or lora, got ${String(o.method)}`);
  if (o.trainClusters.length === 0)
    throw new InstructionTuneError("BAD_OPTION", "give at least one training cluster");
  const overlap = o.trainClusters.filter((c) => o.heldoutClusters.includes(c));
  if (overlap.length > 0) {
    throw new InstructionTuneError(
      "OVERLAPPING_CLUSTERS",
      `cluster(s) ${overlap.join(", ")} are both tuned and held out: a held-out cluster must never be seen in tuning`,
    );
  }
}

/** Tunes on the training clusters, saves the result, and scores untuned and tuned models per cluster. */
export function instructionTune(o: InstructionTuneOptions): InstructionTuneResult {
  checkOptions(o);
  const started = performance.now();
  const loaded = o.loaded;
  const lm = causalModel(loaded);
  const method = o.method ?? "full";
  const seed = o.seed ?? 42;
  const steps = o.steps ?? 300;
  const batchSize = o.batchSize ?? 16;
  const maxLength = Math.min(o.maxLength ?? 256, lm.config.maxPositions);
  const evalTemplates = o.evalTemplates ?? 3;
  const emit = (event: InstructionTuneEvent) => o.onEvent?.(event);
  const eos = targetEos(loaded);
  const tuningDir = join(o.outputDir, "tuning");
  const checkpointState = join(tuningDir, "checkpoint", "trainer_state.json");
  if (!o.resume && existsSync(checkpointState)) {
    throw new InstructionTuneError(
      "CHECKPOINT_EXISTS",
      `${checkpointState} exists from an earlier run: resume it (resume: true, --resume) or choose another output folder`,
    );
  }

  const trainData = shuffleExamples(
    instructionExamples({
      clusters: o.trainClusters,
      split: "train",
      examplesPerTask: o.examplesPerTask ?? 200,
      seed,
    }),
    seed,
  );
  const trainRows = trainData.map((e) =>
    instructionTrainExample(encodeInstruction(loaded, e.prompt, e.target, eos), maxLength),
  );
  const clusters = [
    ...o.trainClusters.map((c) => ({ cluster: c, heldOut: false })),
    ...o.heldoutClusters.map((c) => ({ cluster: c, heldOut: true })),
  ];
  const evalSets = clusters.map(({ cluster, heldOut }) => {
    const templates = evaluationTemplates(heldOut, evalTemplates);
    const examples = instructionExamples({
      clusters: [cluster],
      split: "test",
      examplesPerTask: o.evalExamplesPerTask ?? 40,
      // test records of a cluster do not depend on which clusters are tuned
      seed,
      trainingCount: o.examplesPerTask ?? 200,
      templates,
      mode: "all",
    });
    return { cluster, heldOut, templates, examples };
  });
  const evalExamples = evalSets.flatMap((s) => s.examples);
  emit({
    type: "data",
    trainExamples: trainRows.length,
    evalExamples: evalExamples.length,
    trainClusters: [...o.trainClusters],
    heldoutClusters: [...o.heldoutClusters],
  });

  const scoreOptions = (phase: "untuned" | "tuned"): ScoreOptions => ({
    maxLength,
    onProgress: (done, total) => emit({ type: "eval", phase, done, total }),
  });
  const untuned = o.skipUntuned
    ? null
    : scoreInstructionExamples(loaded, evalExamples, scoreOptions("untuned"));

  const taskModel = new CausalLMTaskModel(lm as GPT2LMHeadModel | LlamaForCausalLM);
  const adapter =
    method === "lora"
      ? new LoraAdapter({
          r: o.loraRank ?? 8,
          alpha: o.loraAlpha ?? 16,
          seed,
          baseModelNameOrPath: o.modelName ?? loaded.source.path,
          taskType: "CAUSAL_LM",
        })
      : null;
  const stepsPerEpoch = Math.ceil(trainRows.length / batchSize);
  const losses: number[] = [];
  let trainer: Trainer;
  try {
    trainer = new Trainer({
      model: taskModel,
      adapter,
      train: trainRows,
      batchSize,
      epochs: Math.ceil(steps / stepsPerEpoch),
      maxSteps: steps,
      learningRate: o.learningRate ?? (method === "lora" ? 2e-3 : 3e-4),
      weightDecay: 0.01,
      schedule: "linear",
      warmupRatio: 0.06,
      maxGradNorm: 1,
      seed,
      padTokenId: loaded.config.padTokenId ?? eos,
      maxLength,
      outputDir: tuningDir,
      checkpointEvery: o.checkpointEvery ?? Math.max(1, Math.floor(steps / 4)),
      resume: o.resume ?? false,
      onEvent: (event) => {
        if (event.type === "step") losses.push(event.loss);
        emit({ type: "train", event });
      },
    });
    trainer.train();
  } catch (error) {
    if (error instanceof TrainingError && error.code === "NON_FINITE_LOSS") {
      throw new InstructionTuneError("NON_FINITE_LOSS", `instruction tuning diverged: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  const trainableParameters = countTrainable(
    adapter ? adapter.trainableParameters().values() : lm.parameters(),
  );

  const savedDir = join(o.outputDir, method === "lora" ? "adapter" : "model");
  if (adapter) {
    saveAdapter(adapter, savedDir);
    emit({ type: "saved", dir: savedDir, kind: "adapter" });
  } else {
    saveTunedModel(loaded, savedDir);
    emit({ type: "saved", dir: savedDir, kind: "model" });
  }

  const tuned = scoreInstructionExamples(loaded, evalExamples, scoreOptions("tuned"));

  const results: ClusterResult[] = [];
  const scored: ScoredExample[] = [];
  let offset = 0;
  for (const set of evalSets) {
    const n = set.examples.length;
    const ids = set.examples.map((e) => e.templateId);
    const tunedCorrect = tuned.slice(offset, offset + n).map((s) => s.correct);
    const untunedCorrect = untuned ? untuned.slice(offset, offset + n).map((s) => s.correct) : null;
    set.examples.forEach((e, i) => {
      scored.push({
        cluster: e.cluster,
        task: e.task,
        templateId: e.templateId,
        answer: e.answer,
        untuned: untuned ? untuned[offset + i].prediction : null,
        untunedCorrect: untuned ? untuned[offset + i].correct : null,
        tuned: tuned[offset + i].prediction,
        tunedCorrect: tuned[offset + i].correct,
      });
    });
    results.push({
      cluster: set.cluster,
      heldOut: set.heldOut,
      tasks: tasksOfCluster(set.cluster).map((t) => t.name),
      templates: set.templates,
      examples: n,
      untuned: untunedCorrect ? templateScores(ids, untunedCorrect, seed) : null,
      tuned: templateScores(ids, tunedCorrect, seed),
      delta: untunedCorrect ? pairedDelta(untunedCorrect, tunedCorrect, seed) : null,
    });
    offset += n;
  }
  const mean = (values: number[]) =>
    values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
  const result: InstructionTuneResult = {
    outputDir: o.outputDir,
    method,
    steps,
    trainExamples: trainRows.length,
    trainClusters: [...o.trainClusters],
    heldoutClusters: [...o.heldoutClusters],
    firstLoss: mean(losses.slice(0, 10)),
    lastLoss: mean(losses.slice(-10)),
    trainableParameters,
    savedDir,
    clusters: results,
    examples: scored,
    seconds: (performance.now() - started) / 1000,
  };
  writeFileAtomic(
    join(o.outputDir, "results.json"),
    `${JSON.stringify(
      {
        model: o.modelName ?? loaded.source.path,
        options: {
          method,
          steps,
          batchSize,
          learningRate: o.learningRate ?? (method === "lora" ? 2e-3 : 3e-4),
          examplesPerTask: o.examplesPerTask ?? 200,
          evalExamplesPerTask: o.evalExamplesPerTask ?? 40,
          evalTemplates,
          seed,
          maxLength,
        },
        ...result,
      },
      null,
      2,
    )}\n`,
  );
  return result;
}

/** A Llama config.json for a model loaded from a llama2.c checkpoint (which has none). */
function llamaConfigJson(config: ModelConfig): Record<string, unknown> {
  return {
    model_type: "llama",
    architectures: ["LlamaForCausalLM"],
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositions,
    hidden_act: "silu",
    rms_norm_eps: config.layerNormEps,
    rope_theta: config.ropeTheta ?? 10000,
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
  };
}

/** model.safetensors, config.json and the tokenizer files of the source, so loadLocalModel reads the folder. */
function saveTunedModel(loaded: LoadedModel, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, p] of causalModel(loaded).namedParameters())
    tensors.set(name, { shape: [...p.shape], data: Float32Array.from(p.floats.subarray(0, p.size)) });
  writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  const source = loaded.source.path;
  const isDir = statSync(source).isDirectory();
  const configText =
    isDir && existsSync(join(source, "config.json"))
      ? readFileSync(join(source, "config.json"), "utf8")
      : `${JSON.stringify(llamaConfigJson(loaded.config), null, 2)}\n`;
  writeFileAtomic(join(dir, "config.json"), configText);
  if (isDir) {
    for (const [name, text] of Object.entries(tokenizerFilesOf(source)))
      writeFileAtomic(join(dir, name), text);
    if (existsSync(join(source, "tokenizer.bin")))
      copyFileSync(join(source, "tokenizer.bin"), join(dir, "tokenizer.bin"));
    return;
  }
  // llama2.c: the tokenizer.bin found next to the checkpoint, as loadLocalModel looked for it
  for (const name of ["tokenizer.bin", `tok${loaded.config.vocabSize}.bin`]) {
    const candidate = join(dirname(source), name);
    if (existsSync(candidate)) {
      copyFileSync(candidate, join(dir, "tokenizer.bin"));
      return;
    }
  }
}
