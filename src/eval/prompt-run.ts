// One prompting evaluation run over a task file: every example is answered with one strategy, its prompts,
// raw outputs and extracted answers go to the results store, and accuracy is computed over the recorded
// examples. Classification tasks (the labels are the distinct gold values) use zero-shot or few-shot
// classification; answer tasks (numbers, yes/no, choice letters, text) use few-shot CoT, zero-shot CoT,
// self-consistency or least-to-most with answer extraction. Examples already in the store are skipped, so an
// interrupted run resumes where it stopped.
//
// Task records: `{<input field>: "...", <label field>: ..., id?: ...}`; optional worked-exemplar fields used
// when a record is drawn as a demonstration: `rationale` (CoT), `subquestions` (string[]) and `steps`
// ({question, answer}[]) (least-to-most).

import { basename } from "node:path";
import { AdaptlmError } from "../errors.js";
import type { CallOptions, LanguageModel } from "../lm/language-model.js";
import { stableStringify } from "../lm/language-model.js";
import { type AnswerType, answersMatch, canonicalNumber } from "../prompting/answer-extraction.js";
import {
  type CotExemplar,
  chainOfThought,
  cotRequest,
  extractCotAnswer,
} from "../prompting/chain-of-thought.js";
import type { ClassificationMethod } from "../prompting/classification.js";
import { type LabelPerturbation, selectDemonstrations } from "../prompting/demonstrations.js";
import type { LabelledExample } from "../prompting/example.js";
import { classifyFewShot } from "../prompting/few-shot.js";
import {
  type DecompositionExemplar,
  leastToMost,
  type SolutionExemplar,
} from "../prompting/least-to-most.js";
import { selfConsistency } from "../prompting/self-consistency.js";
import type { PromptTemplate } from "../prompting/template.js";
import { zeroShotCot } from "../prompting/zero-shot-cot.js";
import { type DataRecord, inferLabels, readRecords } from "../train/dataset.js";
import type { ExampleRecord, ResultsStore, RunMetric, RunSetup } from "./results-store.js";

export class PromptRunError extends AdaptlmError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

export const PROMPT_STRATEGIES = [
  "zero-shot",
  "few-shot",
  "cot",
  "zero-shot-cot",
  "self-consistency",
  "least-to-most",
] as const;
export type PromptStrategy = (typeof PROMPT_STRATEGIES)[number];

/** zero-shot and few-shot classify; the others answer. */
export function isClassificationStrategy(strategy: PromptStrategy): boolean {
  return strategy === "zero-shot" || strategy === "few-shot";
}

export interface PromptTaskExample {
  index: number;
  id: string;
  input: string;
  gold: string;
  rationale?: string;
  subquestions?: string[];
  steps?: Array<{ question: string; answer: string }>;
}

export interface TaskFields {
  /** Default "text". */
  inputField?: string;
  /** Default "label". */
  labelField?: string;
  /** Default "id" (the record's index where absent). */
  idField?: string;
}

/** Reads a task file (.jsonl, .json, .csv, .tsv) into examples. */
export function loadPromptTask(path: string, fields: TaskFields = {}): PromptTaskExample[] {
  return promptTaskFromRecords(readRecords(path), fields, path);
}

export function promptTaskFromRecords(
  records: readonly DataRecord[],
  fields: TaskFields = {},
  where = "task",
): PromptTaskExample[] {
  const inputField = fields.inputField ?? "text";
  const labelField = fields.labelField ?? "label";
  const idField = fields.idField ?? "id";
  const seen = new Set<string>();
  return records.map((record, index) => {
    for (const name of [inputField, labelField]) {
      const value = record[name];
      if (value === undefined || value === null) {
        throw new PromptRunError(
          "PROMPT_TASK_FIELD_MISSING",
          `${where}: record ${index} has no field "${name}" (fields: ${Object.keys(record).join(", ")}): ` +
            "choose the fields with --input-field / --label-field",
        );
      }
    }
    const rawId = record[idField];
    const id = rawId === undefined || rawId === null ? String(index) : String(rawId);
    if (seen.has(id)) {
      throw new PromptRunError(
        "PROMPT_TASK_DUPLICATE_ID",
        `${where}: id "${id}" appears twice: ids must be unique (they key the results store)`,
      );
    }
    seen.add(id);
    const example: PromptTaskExample = {
      index,
      id,
      input: String(record[inputField]),
      gold: String(record[labelField]),
    };
    if (typeof record.rationale === "string") example.rationale = record.rationale;
    if (Array.isArray(record.subquestions)) example.subquestions = record.subquestions.map(String);
    if (Array.isArray(record.steps)) {
      example.steps = (record.steps as Array<Record<string, unknown>>).map((step) => ({
        question: String(step.question),
        answer: String(step.answer),
      }));
    }
    return example;
  });
}

/** number if every gold answer is a number, yes-no if every one is yes/no, choice if single letters A-E, else text. */
export function inferAnswerType(golds: readonly string[]): AnswerType {
  if (golds.length === 0) return "text";
  if (
    golds.every(
      (gold) =>
        canonicalNumber(
          gold
            .replace(/,/g, "")
            .replace(/[$€£¥]/g, "")
            .trim(),
        ) !== undefined,
    )
  )
    return "number";
  if (golds.every((gold) => /^(yes|no)$/i.test(gold.trim()))) return "yes-no";
  if (golds.every((gold) => /^[A-E]$/.test(gold.trim()))) return "choice";
  return "text";
}

/** The template of classification prompts: the choices once, then "Input: ...\nLabel: <label>" blocks. */
export const CLASSIFICATION_TEMPLATE: PromptTemplate = {
  name: "prompt-run/input-label",
  instruction: "Possible labels: {{choices}}.",
  input: "Input: {{input}}\nLabel:",
  target: " {{label}}",
};

export interface PromptRunOptions extends CallOptions {
  strategy: PromptStrategy;
  /** Demonstrations (few-shot, cot, self-consistency, least-to-most). Default 4 (0 for zero-shot / zero-shot-cot). */
  k?: number;
  /** Self-consistency paths. Default 5. */
  samples?: number;
  /** Sampling temperature: self-consistency default 0.7, others 0 (greedy). */
  temperature?: number;
  /** Base seed: demonstrations of example i are drawn with seed + i. Default 0. */
  seed?: number;
  /** Few-shot label perturbation. Default "gold". */
  labels?: LabelPerturbation;
  /** Only the first N examples. */
  limit?: number;
  /** Classification method; default from the model's capabilities. */
  method?: ClassificationMethod;
  /** Answer type of answer tasks; default inferred from the gold answers. */
  answerType?: AnswerType;
  /**
   * Where demonstrations come from: this pool (e.g. a train split) instead of the evaluated task, so no
   * evaluated example is ever shown as a demonstration. Example i draws from it with seed + i, as from the task.
   */
  demonstrations?: readonly PromptTaskExample[];
  /** Upper bound on generated tokens per generation of the answer strategies; default the strategy's own. */
  maxTokens?: number;
  /** Reported after each example (recorded or skipped). */
  onProgress?: (progress: PromptRunProgress) => void;
}

export interface PromptRunProgress {
  done: number;
  total: number;
  correct: number;
  /** Examples found already recorded (resume). */
  skipped: number;
}

export interface PromptRunResult {
  metric: RunMetric;
  /** Examples answered and recorded by this call. */
  recorded: number;
  /** Examples that were already in the store. */
  skipped: number;
  answerType?: AnswerType;
  labels?: string[];
}

/**
 * The options that define the run's prompts and answers (recorded in run.json; resume requires them equal).
 * A demonstration pool is recorded by its size and a hash of its ids, not its contents.
 */
export function promptRunSetupOptions(
  options: Omit<PromptRunOptions, "signal" | "onProgress" | "limit">,
  fields: TaskFields = {},
): Record<string, unknown> {
  const strategy = options.strategy;
  return {
    inputField: fields.inputField ?? "text",
    labelField: fields.labelField ?? "label",
    k: defaultK(strategy, options.k),
    ...(strategy === "self-consistency" ? { samples: options.samples ?? 5 } : {}),
    temperature: options.temperature ?? (strategy === "self-consistency" ? 0.7 : 0),
    ...(strategy === "few-shot" ? { labels: options.labels ?? "gold" } : {}),
    ...(options.method ? { method: options.method } : {}),
    ...(options.answerType ? { answerType: options.answerType } : {}),
    ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
    ...(options.demonstrations
      ? {
          demonstrations: {
            count: options.demonstrations.length,
            ids: fnv1a(options.demonstrations.map((example) => example.id).join("\u0000")),
          },
        }
      : {}),
  };
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** A run id that is the same for the same setup, so re-running a command resumes its run. */
export function defaultRunId(setup: RunSetup): string {
  const task = basename(setup.taskFile)
    .replace(/\.[^.]+$/, "")
    .replace(/[^\w.-]+/g, "_");
  return `${task}-${setup.strategy}-${fnv1a(stableStringify(setup))}`;
}

function defaultK(strategy: PromptStrategy, k: number | undefined): number {
  if (strategy === "zero-shot" || strategy === "zero-shot-cot") return 0;
  return k ?? 4;
}

/**
 * Answers every example not yet in `store` and records it; returns accuracy over all recorded examples of
 * the (limited) task.
 */
export async function runPromptEvaluation(
  lm: LanguageModel,
  task: readonly PromptTaskExample[],
  store: ResultsStore,
  options: PromptRunOptions,
): Promise<PromptRunResult> {
  const { strategy } = options;
  if (!(PROMPT_STRATEGIES as readonly string[]).includes(strategy)) {
    throw new PromptRunError(
      "PROMPT_UNKNOWN_STRATEGY",
      `unknown strategy "${strategy}": use ${PROMPT_STRATEGIES.join(", ")}`,
    );
  }
  if (task.length === 0) throw new PromptRunError("PROMPT_EMPTY_TASK", "the task has no examples");
  const examples = options.limit !== undefined ? task.slice(0, options.limit) : [...task];
  const k = defaultK(strategy, options.k);
  const seed = options.seed ?? 0;
  const callOptions: CallOptions = options.signal ? { signal: options.signal } : {};
  const maxTokens = options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {};
  if (options.demonstrations !== undefined && options.demonstrations.length === 0 && k > 0) {
    throw new PromptRunError(
      "PROMPT_EMPTY_DEMONSTRATIONS",
      `the demonstration pool is empty but k = ${k}: give a pool with at least ${k} examples, or k = 0`,
    );
  }
  const source = options.demonstrations ?? task;
  const pool: LabelledExample[] = source.map((example) => ({
    id: example.id,
    fields: { input: example.input },
    label: example.gold,
  }));
  const byId = new Map(source.map((example) => [example.id, example]));
  const asQuery = (example: PromptTaskExample): LabelledExample => ({
    id: example.id,
    fields: { input: example.input },
    label: example.gold,
  });
  const classification = isClassificationStrategy(strategy);
  // the candidates are the labels of everything the run sees: a label only the pool or only the task has is
  // still a possible answer
  const labels = classification
    ? inferLabels(
        [...task, ...(options.demonstrations ?? [])].map((example) => ({ label: example.gold })),
        "label",
      )
    : undefined;
  if (labels && labels.length < 2) {
    throw new PromptRunError(
      "PROMPT_TOO_FEW_LABELS",
      `classification needs at least 2 distinct labels in the task, found [${labels.join(", ")}]: ` +
        "check --label-field, or use an answer strategy (cot, zero-shot-cot, self-consistency, least-to-most)",
    );
  }
  const answerType = classification
    ? undefined
    : (options.answerType ?? inferAnswerType(task.map((e) => e.gold)));

  const demonstrationsFor = (example: PromptTaskExample, index: number): PromptTaskExample[] =>
    k === 0
      ? []
      : selectDemonstrations(pool, {
          k,
          strategy: "random",
          seed: seed + index,
          query: asQuery(example),
        }).map((demo) => byId.get(demo.id as string) as PromptTaskExample);

  const answer = async (example: PromptTaskExample, index: number): Promise<ExampleRecord> => {
    const base = { index: example.index, id: example.id, input: example.input, gold: example.gold };
    if (classification && labels) {
      const result = await classifyFewShot(lm, CLASSIFICATION_TEMPLATE, pool, asQuery(example), {
        labels,
        k,
        seed: seed + index,
        labelPerturbation: options.labels ?? "gold",
        ...(options.method ? { method: options.method } : {}),
        ...callOptions,
      });
      const predicted = result.result.label ?? null;
      const record: ExampleRecord = {
        ...base,
        prompts: [result.prompt],
        outputs: result.result.generated !== undefined ? [result.result.generated] : [],
        answers: [predicted],
        answer: predicted,
        gold: example.gold,
        correct: predicted === example.gold,
      };
      if (result.result.logprobs) {
        record.candidates = result.candidates.map((candidate) => candidate.continuation);
        record.logprobs = result.result.logprobs.map((value) => (Number.isFinite(value) ? value : null));
      }
      return record;
    }
    const type = answerType as AnswerType;
    const finish = (
      prompts: string[],
      outputs: string[],
      answers: Array<string | undefined>,
      final: string | undefined,
    ): ExampleRecord => ({
      ...base,
      prompts,
      outputs,
      answers: answers.map((a) => a ?? null),
      answer: final ?? null,
      correct: answersMatch(final, example.gold, type),
    });
    const cotExemplars = (): CotExemplar[] =>
      demonstrationsFor(example, index).map((demo) => ({
        question: demo.input,
        rationale: demo.rationale ?? "",
        answer: demo.gold,
      }));
    if (strategy === "cot") {
      const result = await chainOfThought(lm, cotExemplars(), example.input, {
        answerType: type,
        temperature: options.temperature ?? 0,
        seed,
        ...maxTokens,
        ...callOptions,
      });
      return finish([result.prompt], [result.reasoning], [result.answer], result.answer);
    }
    if (strategy === "zero-shot-cot") {
      const result = await zeroShotCot(lm, example.input, {
        answerType: type,
        temperature: options.temperature ?? 0,
        seed,
        ...(options.maxTokens !== undefined ? { maxReasoningTokens: options.maxTokens } : {}),
        ...callOptions,
      });
      return finish(
        [result.reasoningPrompt, result.answerPrompt],
        [result.reasoning, result.answerText],
        [result.answer],
        result.answer,
      );
    }
    if (strategy === "self-consistency") {
      const request = cotRequest(cotExemplars(), example.input, { answerType: type, ...maxTokens });
      const result = await selfConsistency(
        lm,
        request,
        (text) => extractCotAnswer(text, { answerType: type }),
        {
          samples: options.samples ?? 5,
          temperature: options.temperature ?? 0.7,
          seed,
          ...callOptions,
        },
      );
      const record = finish(
        [request.prompt as string],
        result.paths.map((path) => path.text),
        result.paths.map((path) => path.answer),
        result.answer,
      );
      record.votes = result.votes;
      return record;
    }
    // least-to-most: demonstrations with worked sub-questions become its exemplars
    const demos = demonstrationsFor(example, index);
    const decompositionExemplars: DecompositionExemplar[] = demos
      .filter((demo) => demo.subquestions && demo.subquestions.length > 0)
      .map((demo) => ({ question: demo.input, subquestions: demo.subquestions as string[] }));
    const solutionExemplars: SolutionExemplar[] = demos
      .filter((demo) => demo.steps && demo.steps.length > 0)
      .map((demo) => ({
        problem: demo.input,
        steps: demo.steps as Array<{ question: string; answer: string }>,
      }));
    const result = await leastToMost(lm, example.input, example.input, {
      decompositionExemplars,
      solutionExemplars,
      answerType: type,
      ...maxTokens,
      ...callOptions,
    });
    return finish(
      [result.decompositionPrompt, ...result.solvingPrompts],
      [
        result.subquestions.map((sub, i) => `${i + 1}. ${sub}`).join("\n"),
        ...result.steps.map((s) => s.answer),
        result.finalText,
      ],
      [result.answer],
      result.answer,
    );
  };

  let done = 0;
  let correct = 0;
  let skipped = 0;
  let recorded = 0;
  for (const [index, example] of examples.entries()) {
    const existing = store.recorded(example.id);
    if (existing) {
      skipped++;
      if (existing.correct) correct++;
    } else {
      const record = await answer(example, index);
      store.append(record);
      recorded++;
      if (record.correct) correct++;
    }
    done++;
    options.onProgress?.({ done, total: examples.length, correct, skipped });
  }
  const metric: RunMetric = {
    name: "accuracy",
    value: correct / examples.length,
    correct,
    total: examples.length,
  };
  store.finish(metric);
  return {
    metric,
    recorded,
    skipped,
    ...(answerType ? { answerType } : {}),
    ...(labels ? { labels } : {}),
  };
}
