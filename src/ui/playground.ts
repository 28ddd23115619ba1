// The playground: one typed input answered by one prompting strategy, through the same code as `adaptlm
// prompt` (runPromptEvaluation over a one-example task written to a scratch results store), so what the page
// shows is exactly what a run would record: the prompts sent, the raw outputs, the extracted answers and the
// votes. Demonstrations (few-shot, cot, self-consistency, least-to-most) and the label set of classification
// strategies come from the examples of a run the user picks. One request runs at a time (a local model uses
// every core); each has a time limit, and a model failure becomes a UiError the page shows.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdaptlmError } from "../errors.js";
import {
  inferAnswerType,
  isClassificationStrategy,
  PROMPT_STRATEGIES,
  type PromptRunOptions,
  type PromptStrategy,
  type PromptTaskExample,
  promptRunSetupOptions,
  runPromptEvaluation,
} from "../eval/prompt-run.js";
import type { ReportExample } from "../eval/report/report-input.js";
import { type ExampleRecord, ResultsStore } from "../eval/results-store.js";
import { redactSecrets } from "../lm/api-key.js";
import type { LanguageModel } from "../lm/language-model.js";
import type { AnswerType } from "../prompting/answer-extraction.js";
import { UiError } from "./ui-error.js";

export const ANSWER_TYPES: readonly AnswerType[] = ["number", "yes-no", "choice", "text"];

export interface PlaygroundRequest {
  strategy: PromptStrategy;
  input: string;
  /** Demonstrations drawn from the pool (default: the strategy's default, 0 for zero-shot strategies). */
  k?: number;
  /** Self-consistency paths. */
  samples?: number;
  temperature?: number;
  seed?: number;
  /** Run whose examples are the demonstration pool (and the labels, for classification). */
  demonstrationsRun?: string;
  /** The expected answer, if the user gives one: the result then says whether the answer is right. */
  expected?: string;
  answerType?: AnswerType;
}

export interface PlaygroundResult {
  model: string;
  strategy: PromptStrategy;
  prompts: string[];
  outputs: string[];
  answers: Array<string | null>;
  answer: string | null;
  votes?: Array<{ answer: string; count: number }>;
  candidates?: string[];
  logprobs?: Array<number | null>;
  /** Present only when the request gave an expected answer. */
  correct?: boolean;
  /** Classification: the labels the strategy chose from. Answer strategies: the answer type used. */
  labels?: string[];
  answerType?: AnswerType;
}

export interface PlaygroundOptions {
  /** Time limit of one request (default 60 s); past it the request is aborted and UI_PLAYGROUND_TIMEOUT thrown. */
  timeoutMs?: number;
  /** The examples of a run (the demonstration pool); throws for an unknown run. */
  examplesOf?: (runId: string) => readonly ReportExample[];
  /** Strings never shown in an error (the API key). */
  secrets?: readonly string[];
  /** Where scratch run folders go (default the OS temp folder). */
  scratchDir?: string;
}

/** Longest input accepted (characters). */
export const MAX_PLAYGROUND_INPUT = 20_000;
const QUERY_ID = "playground-input";

export class Playground {
  readonly lm: LanguageModel;
  private readonly options: PlaygroundOptions;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(lm: LanguageModel, options: PlaygroundOptions = {}) {
    this.lm = lm;
    this.options = options;
  }

  /** Answers one request after the ones before it finish. */
  run(request: PlaygroundRequest): Promise<PlaygroundResult> {
    checkRequest(request);
    const next = this.queue.then(
      () => this.answer(request),
      () => this.answer(request),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async answer(request: PlaygroundRequest): Promise<PlaygroundResult> {
    const pool = this.pool(request);
    const classification = isClassificationStrategy(request.strategy);
    const poolLabels = [...new Set(pool.map((example) => example.gold))];
    if (classification && poolLabels.length < 2) {
      throw new UiError(
        "UI_PLAYGROUND_NO_LABELS",
        `${request.strategy} classifies into the labels of a run's examples, and ${
          request.demonstrationsRun === undefined
            ? "no run was chosen"
            : `run "${request.demonstrationsRun}" has ${poolLabels.length} distinct label(s)`
        }: choose a run of a classification task, or an answer strategy (cot, zero-shot-cot, self-consistency, least-to-most)`,
      );
    }
    // The query's gold only matters for the verdict: without an expected answer a known label stands in
    // (classification needs the gold among the labels) and the verdict is dropped.
    const expected = request.expected?.trim() ? request.expected.trim() : undefined;
    const gold = expected ?? (classification ? (poolLabels[0] as string) : "");
    const query: PromptTaskExample = { index: 0, id: QUERY_ID, input: request.input, gold };
    const task: PromptTaskExample[] = [query, ...pool.map((example, i) => ({ ...example, index: i + 1 }))];
    const answerType = classification
      ? undefined
      : (request.answerType ?? inferAnswerType(pool.length > 0 ? pool.map((e) => e.gold) : [gold]));
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    const abort = new AbortController();
    const runOptions: PromptRunOptions = {
      strategy: request.strategy,
      limit: 1,
      seed: request.seed ?? 0,
      signal: abort.signal,
      ...(request.k !== undefined ? { k: request.k } : {}),
      ...(request.samples !== undefined ? { samples: request.samples } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(answerType !== undefined ? { answerType } : {}),
    };
    const scratch = mkdtempSync(join(this.options.scratchDir ?? tmpdir(), "adaptlm-ui-playground-"));
    let timer: NodeJS.Timeout | undefined;
    try {
      const store = ResultsStore.open(scratch, "playground", {
        model: this.lm.model,
        taskFile: "playground",
        strategy: request.strategy,
        options: promptRunSetupOptions(runOptions),
        seed: runOptions.seed ?? 0,
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abort.abort();
          reject(
            new UiError(
              "UI_PLAYGROUND_TIMEOUT",
              `the model did not answer within ${(timeoutMs / 1000).toFixed(0)} s: try fewer samples or ` +
                "demonstrations, a shorter input, or start the UI with a longer --timeout",
              504,
            ),
          );
        }, timeoutMs);
      });
      let result: Awaited<ReturnType<typeof runPromptEvaluation>>;
      try {
        result = await Promise.race([runPromptEvaluation(this.lm, task, store, runOptions), timeout]);
      } catch (error) {
        if (error instanceof UiError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        const code = error instanceof AdaptlmError ? ` (${error.code})` : "";
        throw new UiError(
          "UI_PLAYGROUND_FAILED",
          `the strategy or the model failed${code}: ${redactSecrets(message, this.options.secrets ?? [])}`,
          502,
          { cause: error },
        );
      }
      const record = store.recorded(QUERY_ID) as ExampleRecord;
      return toResult(this.lm.model, request.strategy, record, expected, result.labels, answerType);
    } finally {
      if (timer) clearTimeout(timer);
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  private pool(request: PlaygroundRequest): PromptTaskExample[] {
    if (request.demonstrationsRun === undefined || request.demonstrationsRun === "") return [];
    if (!this.options.examplesOf) {
      throw new UiError("UI_PLAYGROUND_NO_RUNS", "this playground has no runs to draw demonstrations from");
    }
    return this.options
      .examplesOf(request.demonstrationsRun)
      .filter((example) => example.id !== QUERY_ID)
      .map((example) => ({ index: example.index, id: example.id, input: example.input, gold: example.gold }));
  }
}

function toResult(
  model: string,
  strategy: PromptStrategy,
  record: ExampleRecord,
  expected: string | undefined,
  labels: string[] | undefined,
  answerType: AnswerType | undefined,
): PlaygroundResult {
  return {
    model,
    strategy,
    prompts: record.prompts,
    outputs: record.outputs,
    answers: record.answers,
    answer: record.answer,
    ...(record.votes ? { votes: record.votes.map((v) => ({ answer: v.answer, count: v.count })) } : {}),
    ...(record.candidates ? { candidates: record.candidates } : {}),
    ...(record.logprobs ? { logprobs: record.logprobs } : {}),
    ...(expected !== undefined ? { correct: record.correct } : {}),
    ...(labels ? { labels } : {}),
    ...(answerType ? { answerType } : {}),
  };
}

/** Throws UiError UI_PLAYGROUND_REQUEST for a request the strategies cannot run. */
export function checkRequest(request: PlaygroundRequest): void {
  const bad = (message: string): never => {
    throw new UiError("UI_PLAYGROUND_REQUEST", message);
  };
  if (!(PROMPT_STRATEGIES as readonly string[]).includes(request.strategy))
    bad(`unknown strategy "${String(request.strategy)}": use ${PROMPT_STRATEGIES.join(", ")}`);
  if (typeof request.input !== "string" || request.input.trim() === "") bad("type an input first");
  if (request.input.length > MAX_PLAYGROUND_INPUT)
    bad(
      `the input has ${request.input.length} characters; the playground takes at most ${MAX_PLAYGROUND_INPUT}`,
    );
  const integer = (name: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max))
      bad(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  };
  integer("k", request.k, 0, 32);
  integer("samples", request.samples, 1, 64);
  integer("seed", request.seed, 0, 2 ** 31 - 1);
  const t = request.temperature;
  if (t !== undefined && (typeof t !== "number" || !Number.isFinite(t) || t < 0 || t > 5))
    bad(`temperature must be a number from 0 to 5, got ${String(t)}`);
  if (request.answerType !== undefined && !ANSWER_TYPES.includes(request.answerType))
    bad(`answer type must be one of ${ANSWER_TYPES.join(", ")}, got "${String(request.answerType)}"`);
}
