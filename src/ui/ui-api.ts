// The UI's JSON API, one handler per endpoint. Handlers take parsed inputs and return plain data (or throw
// UiError); ui-server.ts does the HTTP. Run ids are folder paths and may hold "/", so they travel in query
// parameters (?id=...), never in the path.
//
//   GET  /api/runs                      runs list (RunsListing)
//   POST /api/reload                    forget the loaded folder, read it again, then the runs list
//   GET  /api/run?id=ID                 one run: setup, metric, chart titles, example count
//   GET  /api/examples?id=ID&offset=&limit=&filter=all|correct|wrong
//   GET  /api/chart?id=ID&n=N           chart N of the run as image/svg+xml (without id: of the folder)
//   GET  /api/compare?id=A&id=B[&id=C]  metrics side by side + the examples where the runs differ
//   GET  /api/playground                whether a model is configured, its name, strategies, pools
//   POST /api/playground                answer one input (PlaygroundRequest) -> PlaygroundResult

import { PROMPT_STRATEGIES, type PromptStrategy } from "../eval/prompt-run.js";
import type { ReportRun } from "../eval/report/report-input.js";
import type { AnswerType } from "../prompting/answer-extraction.js";
import { ANSWER_TYPES, type Playground, type PlaygroundRequest } from "./playground.js";
import type { ChartInfo, ExampleFilter, ExamplePage, RunCatalog } from "./run-catalog.js";
import { compareRuns, type RunComparison } from "./run-comparison.js";
import { UiError } from "./ui-error.js";

export interface RunDetail {
  run: ReportRun;
  charts: ChartInfo[];
  examples: number;
}

export interface PlaygroundInfo {
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
  model?: string;
  strategies: readonly string[];
  answerTypes: readonly string[];
  /** Runs with recorded examples: the demonstration pools. */
  pools: Array<{ id: string; task: string; examples: number }>;
}

export class UiApi {
  readonly catalog: RunCatalog;
  readonly playground: Playground | undefined;

  constructor(catalog: RunCatalog, playground?: Playground) {
    this.catalog = catalog;
    this.playground = playground;
  }

  runDetail(id: string): RunDetail {
    return {
      run: this.catalog.run(id),
      charts: this.catalog.charts(id),
      examples: this.catalog.allExamples(id).length,
    };
  }

  examples(query: URLSearchParams): ExamplePage {
    const filter = (query.get("filter") ?? "all") as ExampleFilter;
    if (!["all", "correct", "wrong"].includes(filter))
      throw new UiError("UI_BAD_QUERY", `filter must be all, correct or wrong, got "${filter}"`);
    return this.catalog.examplePage(requiredId(query), {
      offset: integerParam(query, "offset", 0),
      limit: integerParam(query, "limit", 20),
      filter,
    });
  }

  /** ?id=ID&n=N: chart N of a run; ?n=N alone: chart N of the folder (across runs). */
  chart(query: URLSearchParams): Promise<string> {
    const id = query.get("id");
    return this.catalog.chartSvg(id === null || id === "" ? undefined : id, integerParam(query, "n", 0));
  }

  compare(query: URLSearchParams): RunComparison {
    const ids = query.getAll("id").filter((id) => id !== "");
    return compareRuns(
      ids.map((id) => ({ run: this.catalog.run(id), examples: this.catalog.allExamples(id) })),
    );
  }

  playgroundInfo(): PlaygroundInfo {
    const pools = this.catalog
      .listing()
      .runs.filter((run) => run.examples > 0)
      .map((run) => ({ id: run.id, task: run.task, examples: run.examples }));
    const base = { strategies: PROMPT_STRATEGIES, answerTypes: ANSWER_TYPES, pools };
    if (!this.playground) {
      return {
        ...base,
        available: false,
        reason:
          "no model: start the UI with --model <local folder> or --endpoint URL --model NAME to try strategies",
      };
    }
    return { ...base, available: true, model: this.playground.lm.model };
  }

  async runPlayground(body: Record<string, unknown>) {
    if (!this.playground) {
      throw new UiError(
        "UI_NO_MODEL",
        "no model is configured: restart adaptlm ui with --model <local folder> or --endpoint URL --model NAME",
        503,
      );
    }
    return this.playground.run(playgroundRequest(body));
  }
}

function requiredId(query: URLSearchParams): string {
  const id = query.get("id");
  if (id === null || id === "") throw new UiError("UI_BAD_QUERY", "the request needs ?id=<run id>");
  return id;
}

function integerParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new UiError("UI_BAD_QUERY", `${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/** The request from a JSON body: numbers may come as strings (form fields); empty fields mean "default". */
export function playgroundRequest(body: Record<string, unknown>): PlaygroundRequest {
  const text = (name: string): string | undefined => {
    const value = body[name];
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") throw new UiError("UI_PLAYGROUND_REQUEST", `${name} must be a string`);
    return value;
  };
  const number = (name: string): number | undefined => {
    const value = body[name];
    if (value === undefined || value === null || value === "") return undefined;
    const parsed = typeof value === "number" ? value : Number(value);
    if (!Number.isFinite(parsed))
      throw new UiError("UI_PLAYGROUND_REQUEST", `${name} must be a number, got ${JSON.stringify(value)}`);
    return parsed;
  };
  const request: PlaygroundRequest = {
    strategy: (text("strategy") ?? "") as PromptStrategy,
    input: text("input") ?? "",
  };
  const k = number("k");
  if (k !== undefined) request.k = k;
  const samples = number("samples");
  if (samples !== undefined) request.samples = samples;
  const temperature = number("temperature");
  if (temperature !== undefined) request.temperature = temperature;
  const seed = number("seed");
  if (seed !== undefined) request.seed = seed;
  const pool = text("demonstrationsRun");
  if (pool !== undefined) request.demonstrationsRun = pool;
  const expected = text("expected");
  if (expected !== undefined) request.expected = expected;
  const answerType = text("answerType");
  if (answerType !== undefined) request.answerType = answerType as AnswerType;
  return request;
}
