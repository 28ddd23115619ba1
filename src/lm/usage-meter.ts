// Token and cost accounting for a run, and a budget that stops it cleanly. `UsageMeter.wrap(lm)` returns a
// LanguageModel that, before each request, adds a worst-case estimate (prompt tokens estimated from its length,
// completion tokens = maxTokens x n) to what is spent and reserved, and throws `BudgetExceededError` without
// sending if that would pass the budget; after each answer it records the real usage, and if the budget is now
// passed, throws `BudgetExceededError` carrying the answer (so a cache above can still keep what was paid for).
//
// Put the meter under the response cache, `new CachedLanguageModel(meter.wrap(http), cache)`: cache hits then
// cost nothing and never count against the budget.

import { AdaptlmError } from "../errors.js";
import type {
  CallOptions,
  GenerateRequest,
  GenerateResponse,
  LanguageModel,
  LanguageModelCapabilities,
  ScoreResult,
  Usage,
} from "./language-model.js";
import { DEFAULT_MAX_TOKENS, promptText } from "./language-model.js";

/** Prices in currency units (e.g. USD) per one million tokens. */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

export interface UsageMeterOptions {
  /** Prices by model name; a model without a price costs 0 (and cannot be used with `budget`). */
  prices?: Record<string, ModelPrice>;
  /** Stop before spending more than this (same unit as the prices). */
  budget?: number;
  /** Stop before using more than this many tokens in total (prompt + completion), whatever the price. */
  maxTotalTokens?: number;
  /** Token estimate of a prompt for the pre-check. Default: 1 token per 4 characters, rounded up. */
  estimateTokens?: (text: string) => number;
  /** Called after each recorded request with the totals so far. */
  onUsage?: (snapshot: UsageSnapshot) => void;
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cost: number;
}

export interface UsageSnapshot extends UsageTotals {
  byModel: Record<string, UsageTotals>;
}

export class BudgetExceededError extends AdaptlmError {
  /** "before": the request was not sent; "after": it was sent, paid for, and passed the budget. */
  readonly when: "before" | "after";
  readonly spent: number;
  readonly limit: number;
  readonly unit: "cost" | "tokens";
  /** The answer of the request that passed the budget (when "after"). */
  readonly response?: GenerateResponse;
  readonly scoreResult?: ScoreResult;

  constructor(
    message: string,
    details: {
      when: "before" | "after";
      spent: number;
      limit: number;
      unit: "cost" | "tokens";
      response?: GenerateResponse;
      scoreResult?: ScoreResult;
    },
  ) {
    super("LM_BUDGET_EXCEEDED", message);
    this.when = details.when;
    this.spent = details.spent;
    this.limit = details.limit;
    this.unit = details.unit;
    if (details.response) this.response = details.response;
    if (details.scoreResult) this.scoreResult = details.scoreResult;
  }
}

export class UsageConfigError extends AdaptlmError {
  constructor(message: string) {
    super("LM_USAGE_CONFIG", message);
  }
}

function emptyTotals(): UsageTotals {
  return { requests: 0, promptTokens: 0, completionTokens: 0, cost: 0 };
}

export class UsageMeter {
  private readonly options: UsageMeterOptions;
  private readonly totals: UsageTotals = emptyTotals();
  private readonly byModel = new Map<string, UsageTotals>();
  /** Estimated cost and tokens of requests in flight, so concurrent requests cannot overshoot together. */
  private reservedCost = 0;
  private reservedTokens = 0;

  constructor(options: UsageMeterOptions = {}) {
    if (options.budget !== undefined && !(options.budget >= 0)) {
      throw new UsageConfigError(`budget must be a non-negative number, got ${options.budget}`);
    }
    if (options.maxTotalTokens !== undefined && !(options.maxTotalTokens >= 0)) {
      throw new UsageConfigError(
        `maxTotalTokens must be a non-negative number, got ${options.maxTotalTokens}`,
      );
    }
    this.options = options;
  }

  /** The cost of `usage` on `model` at the configured prices. */
  cost(model: string, usage: Usage): number {
    const price = this.options.prices?.[model];
    if (!price) return 0;
    return (
      (usage.promptTokens * price.inputPerMillion + usage.completionTokens * price.outputPerMillion) / 1e6
    );
  }

  snapshot(): UsageSnapshot {
    const byModel: Record<string, UsageTotals> = {};
    for (const [model, totals] of this.byModel) byModel[model] = { ...totals };
    return { ...this.totals, byModel };
  }

  /** A LanguageModel that meters and budgets every call of `inner`. */
  wrap(inner: LanguageModel): LanguageModel {
    if (this.options.budget !== undefined && !this.options.prices?.[inner.model]) {
      throw new UsageConfigError(
        `a budget is set but there is no price for model "${inner.model}": add prices["${inner.model}"] = { inputPerMillion, outputPerMillion }`,
      );
    }
    return new MeteredLanguageModel(inner, this);
  }

  /** Throws BudgetExceededError if `estimate` on top of spent and reserved would pass a limit; else reserves it. */
  reserve(model: string, estimate: Usage): { cost: number; tokens: number } {
    const cost = this.cost(model, estimate);
    const tokens = estimate.promptTokens + estimate.completionTokens;
    const { budget, maxTotalTokens } = this.options;
    if (budget !== undefined && this.totals.cost + this.reservedCost + cost > budget) {
      throw new BudgetExceededError(
        `budget ${budget} would be exceeded: spent ${round(this.totals.cost)}, in flight up to ${round(this.reservedCost)}, ` +
          `and the next request to ${model} may cost up to ${round(cost)}; the request was not sent. Raise the budget to go on`,
        { when: "before", spent: this.totals.cost, limit: budget, unit: "cost" },
      );
    }
    const usedTokens = this.totals.promptTokens + this.totals.completionTokens;
    if (maxTotalTokens !== undefined && usedTokens + this.reservedTokens + tokens > maxTotalTokens) {
      throw new BudgetExceededError(
        `token budget ${maxTotalTokens} would be exceeded: used ${usedTokens}, in flight up to ${this.reservedTokens}, ` +
          `and the next request to ${model} may use up to ${tokens}; the request was not sent. Raise maxTotalTokens to go on`,
        { when: "before", spent: usedTokens, limit: maxTotalTokens, unit: "tokens" },
      );
    }
    this.reservedCost += cost;
    this.reservedTokens += tokens;
    return { cost, tokens };
  }

  release(reservation: { cost: number; tokens: number }): void {
    this.reservedCost -= reservation.cost;
    this.reservedTokens -= reservation.tokens;
  }

  /** Adds a paid request; returns the error to throw if it passed a limit (undefined otherwise). */
  record(model: string, usage: Usage): BudgetExceededError | undefined {
    const cost = this.cost(model, usage);
    const perModel = this.byModel.get(model) ?? emptyTotals();
    for (const totals of [this.totals, perModel]) {
      totals.requests++;
      totals.promptTokens += usage.promptTokens;
      totals.completionTokens += usage.completionTokens;
      totals.cost += cost;
    }
    this.byModel.set(model, perModel);
    this.options.onUsage?.(this.snapshot());
    const { budget, maxTotalTokens } = this.options;
    if (budget !== undefined && this.totals.cost > budget) {
      return new BudgetExceededError(
        `budget ${budget} exceeded: spent ${round(this.totals.cost)} after the last request to ${model}; stopping. Raise the budget to go on`,
        { when: "after", spent: this.totals.cost, limit: budget, unit: "cost" },
      );
    }
    const usedTokens = this.totals.promptTokens + this.totals.completionTokens;
    if (maxTotalTokens !== undefined && usedTokens > maxTotalTokens) {
      return new BudgetExceededError(
        `token budget ${maxTotalTokens} exceeded: used ${usedTokens} after the last request to ${model}; stopping. Raise maxTotalTokens to go on`,
        { when: "after", spent: usedTokens, limit: maxTotalTokens, unit: "tokens" },
      );
    }
    return undefined;
  }

  estimatePromptTokens(text: string): number {
    return (this.options.estimateTokens ?? ((value: string) => Math.ceil(value.length / 4)))(text);
  }
}

function round(value: number): string {
  return Number(value.toPrecision(6)).toString();
}

class MeteredLanguageModel implements LanguageModel {
  readonly model: string;
  readonly capabilities: LanguageModelCapabilities;

  constructor(
    private readonly inner: LanguageModel,
    private readonly meter: UsageMeter,
  ) {
    this.model = inner.model;
    this.capabilities = inner.capabilities;
  }

  async generate(request: GenerateRequest, options?: CallOptions): Promise<GenerateResponse> {
    const estimate: Usage = {
      promptTokens: this.meter.estimatePromptTokens(promptText(request.prompt)),
      completionTokens: (request.maxTokens ?? DEFAULT_MAX_TOKENS) * (request.n ?? 1),
    };
    const reservation = this.meter.reserve(this.model, estimate);
    let response: GenerateResponse;
    try {
      response = await this.inner.generate(request, options);
    } finally {
      this.meter.release(reservation);
    }
    if (response.cached) return response;
    const exceeded = this.meter.record(this.model, response.usage);
    if (exceeded) {
      throw new BudgetExceededError(exceeded.message, {
        when: exceeded.when,
        spent: exceeded.spent,
        limit: exceeded.limit,
        unit: exceeded.unit,
        response,
      });
    }
    return response;
  }

  async score(prompt: string, continuation: string, options?: CallOptions): Promise<ScoreResult> {
    const estimate: Usage = {
      promptTokens: this.meter.estimatePromptTokens(prompt + continuation),
      completionTokens: 1,
    };
    const reservation = this.meter.reserve(this.model, estimate);
    let result: ScoreResult;
    try {
      result = await this.inner.score(prompt, continuation, options);
    } finally {
      this.meter.release(reservation);
    }
    if (result.cached) return result;
    const exceeded = this.meter.record(this.model, result.usage);
    if (exceeded) {
      throw new BudgetExceededError(exceeded.message, {
        when: exceeded.when,
        spent: exceeded.spent,
        limit: exceeded.limit,
        unit: exceeded.unit,
        scoreResult: result,
      });
    }
    return result;
  }
}
