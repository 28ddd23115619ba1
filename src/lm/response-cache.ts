// A persistent response cache in SQLite, wrapping any LanguageModel. Each generated sample is stored under
// sha256(model, the full normalised request without `n`, the sample index): asking again for the same request
// returns the stored samples; more samples (a larger n) reuse the stored ones; a new seed, temperature or prompt
// is a different key, so resampling is never served a stale answer. Scores are stored under (model, prompt,
// continuation). Every answer is written as soon as it arrives, so an interrupted evaluation resumes where it
// stopped and pays for nothing twice. Identical calls in flight at the same time are sent once.
//
// The cache holds model names, requests and answers only; API keys never reach it.

import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { AdaptlmError } from "../errors.js";
import {
  type CallOptions,
  type Choice,
  type GenerateRequest,
  type GenerateResponse,
  type LanguageModel,
  type LanguageModelCapabilities,
  normaliseRequest,
  type ScoreResult,
  stableStringify,
  type Usage,
} from "./language-model.js";
import { BudgetExceededError } from "./usage-meter.js";

export class ResponseCacheError extends AdaptlmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("LM_RESPONSE_CACHE", message, options);
  }
}

interface StoredSample {
  choice: Choice;
  /** The prompt tokens of the request that produced it, and this choice's share of the completion tokens. */
  promptTokens: number;
  completionTokens: number;
}

const SCHEMA_VERSION = 1;

/** The SQLite store. Open one per file; several CachedLanguageModels (one per model) may share it. */
export class ResponseCache {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly getStatement: Database.Statement<[string], { response: string }>;
  private readonly putStatement: Database.Statement<[string, string, string, string, number, string, number]>;

  /** `path` is a file (created with its folder if missing) or ":memory:". */
  constructor(path: string) {
    this.path = path;
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS lm_cache_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS lm_responses (
          key TEXT PRIMARY KEY,
          model TEXT NOT NULL,
          kind TEXT NOT NULL,
          request TEXT NOT NULL,
          sample_index INTEGER NOT NULL,
          response TEXT NOT NULL,
          created_at INTEGER NOT NULL
        );
      `);
      const version = this.db.prepare("SELECT value FROM lm_cache_meta WHERE key = 'schema_version'").get() as
        | { value: string }
        | undefined;
      if (version === undefined) {
        this.db
          .prepare("INSERT INTO lm_cache_meta (key, value) VALUES ('schema_version', ?)")
          .run(String(SCHEMA_VERSION));
      } else if (Number(version.value) !== SCHEMA_VERSION) {
        throw new ResponseCacheError(
          `response cache ${path} has schema version ${version.value}, this adaptlm reads version ${SCHEMA_VERSION}: use a new cache file`,
        );
      }
    } catch (error) {
      if (error instanceof ResponseCacheError) throw error;
      throw new ResponseCacheError(
        `cannot open the response cache ${path} (${(error as Error).message}): check that the folder is writable and the file is an SQLite database`,
        { cause: error },
      );
    }
    this.getStatement = this.db.prepare("SELECT response FROM lm_responses WHERE key = ?");
    this.putStatement = this.db.prepare(
      "INSERT OR REPLACE INTO lm_responses (key, model, kind, request, sample_index, response, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
  }

  get(key: string): unknown | undefined {
    const row = this.getStatement.get(key);
    return row === undefined ? undefined : JSON.parse(row.response);
  }

  put(
    key: string,
    model: string,
    kind: string,
    request: string,
    sampleIndex: number,
    response: unknown,
  ): void {
    this.putStatement.run(key, model, kind, request, sampleIndex, JSON.stringify(response), Date.now());
  }

  /** Number of stored entries (samples and scores), optionally of one model. */
  count(model?: string): number {
    const row = (
      model === undefined
        ? this.db.prepare("SELECT COUNT(*) AS n FROM lm_responses").get()
        : this.db.prepare("SELECT COUNT(*) AS n FROM lm_responses WHERE model = ?").get(model)
    ) as { n: number };
    return row.n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export interface CacheStats {
  hits: number;
  misses: number;
}

export class CachedLanguageModel implements LanguageModel {
  readonly model: string;
  readonly capabilities: LanguageModelCapabilities;
  readonly cache: ResponseCache;
  /** Samples and scores served from the cache / fetched from the inner model. */
  readonly stats: CacheStats = { hits: 0, misses: 0 };
  private readonly inner: LanguageModel;
  private readonly pending = new Map<string, Promise<GenerateResponse | ScoreResult>>();

  /**
   * `namespace` separates entries of models that share a name but not their answers (e.g. the same model name
   * on two servers with different quantisation); it is part of every key. Default "".
   */
  readonly namespace: string;

  constructor(inner: LanguageModel, cache: ResponseCache, options: { namespace?: string } = {}) {
    this.inner = inner;
    this.cache = cache;
    this.namespace = options.namespace ?? "";
    this.model = inner.model;
    this.capabilities = inner.capabilities;
  }

  async generate(request: GenerateRequest, options?: CallOptions): Promise<GenerateResponse> {
    const normalised = normaliseRequest(request);
    const { n, ...keyed } = normalised;
    const requestText = stableStringify(keyed);
    const sampleKey = (index: number): string =>
      sha256(
        stableStringify({
          v: SCHEMA_VERSION,
          kind: "generate",
          namespace: this.namespace,
          model: this.model,
          request: keyed,
          sample: index,
        }),
      );
    const keys = Array.from({ length: n }, (_, index) => sampleKey(index));
    const stored = keys.map((key) => this.cache.get(key) as StoredSample | undefined);
    if (stored.every((sample) => sample !== undefined)) {
      this.stats.hits += n;
      return assemble(stored as StoredSample[], true);
    }
    const flightKey = `generate:${requestText}:${n}`;
    const inFlight = this.pending.get(flightKey);
    if (inFlight) {
      const shared = (await inFlight) as GenerateResponse;
      this.stats.hits += n;
      return { ...structuredClone(shared), cached: true };
    }
    const fetch = (async (): Promise<GenerateResponse> => {
      let response: GenerateResponse;
      let budgetError: BudgetExceededError | undefined;
      try {
        response = await this.inner.generate(request, options);
      } catch (error) {
        // the request was paid for before the budget stopped the run: keep its answer
        if (!(error instanceof BudgetExceededError) || !error.response) throw error;
        budgetError = error;
        response = error.response;
      }
      if (response.choices.length !== n) {
        throw new ResponseCacheError(
          `${this.model} returned ${response.choices.length} choices for n = ${n}: not caching a short answer`,
        );
      }
      const shares = splitCompletionTokens(response);
      const choices: Choice[] = [];
      for (let index = 0; index < n; index++) {
        const hit = stored[index];
        if (hit !== undefined) {
          this.stats.hits++;
          choices.push(hit.choice);
          continue;
        }
        this.stats.misses++;
        const choice = response.choices[index];
        this.cache.put(keys[index], this.model, "generate", requestText, index, {
          choice,
          promptTokens: response.usage.promptTokens,
          completionTokens: shares[index],
        } satisfies StoredSample);
        choices.push(choice);
      }
      if (budgetError) throw budgetError;
      return { choices, usage: response.usage };
    })();
    this.pending.set(flightKey, fetch);
    try {
      return await fetch;
    } finally {
      this.pending.delete(flightKey);
    }
  }

  async score(prompt: string, continuation: string, options?: CallOptions): Promise<ScoreResult> {
    const requestText = stableStringify({ prompt, continuation });
    const key = sha256(
      stableStringify({
        v: SCHEMA_VERSION,
        kind: "score",
        namespace: this.namespace,
        model: this.model,
        prompt,
        continuation,
      }),
    );
    const stored = this.cache.get(key) as ScoreResult | undefined;
    if (stored !== undefined) {
      this.stats.hits++;
      return { ...stored, cached: true };
    }
    const flightKey = `score:${requestText}`;
    const inFlight = this.pending.get(flightKey);
    if (inFlight) {
      this.stats.hits++;
      return { ...structuredClone((await inFlight) as ScoreResult), cached: true };
    }
    const fetch = (async (): Promise<ScoreResult> => {
      let result: ScoreResult;
      let budgetError: BudgetExceededError | undefined;
      try {
        result = await this.inner.score(prompt, continuation, options);
      } catch (error) {
        if (!(error instanceof BudgetExceededError) || !error.scoreResult) throw error;
        budgetError = error;
        result = error.scoreResult;
      }
      this.stats.misses++;
      const { cached: _cached, ...toStore } = result;
      this.cache.put(key, this.model, "score", requestText, 0, toStore);
      if (budgetError) throw budgetError;
      return result;
    })();
    this.pending.set(flightKey, fetch);
    try {
      return await fetch;
    } finally {
      this.pending.delete(flightKey);
    }
  }
}

/** Each choice's share of the completion tokens: its logprob count where known, else an even split. */
function splitCompletionTokens(response: GenerateResponse): number[] {
  const total = response.usage.completionTokens;
  const count = response.choices.length;
  if (response.choices.every((choice) => choice.logprobs !== undefined)) {
    return response.choices.map((choice) => choice.logprobs!.length);
  }
  const base = Math.floor(total / count);
  return response.choices.map((_, index) => base + (index < total - base * count ? 1 : 0));
}

function assemble(samples: StoredSample[], cached: boolean): GenerateResponse {
  const usage: Usage = {
    promptTokens: samples[0].promptTokens,
    completionTokens: samples.reduce((sum, sample) => sum + sample.completionTokens, 0),
  };
  return { choices: samples.map((sample) => sample.choice), usage, cached };
}
