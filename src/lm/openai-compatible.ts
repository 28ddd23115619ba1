// A LanguageModel over any OpenAI-compatible HTTP server (vLLM, llama.cpp server, Ollama, OpenAI): string
// prompts go to `/completions`, chat messages to `/chat/completions`; `score` uses `/completions` with
// `echo: true` and logprobs (vLLM has it) and picks the continuation's tokens by their text offsets.
//
// Sending is bounded: a timeout per attempt (AbortController), retries with exponential backoff and jitter on
// 429 / 5xx / timeouts / network errors (honouring Retry-After), a concurrency limit, a requests-per-window limit,
// and several base URLs balanced round-robin or least-busy. The API key comes from the environment or a config
// file, lives in a private field, is sent only in the Authorization header, and is redacted from every error.

import { AdaptlmError } from "../errors.js";
import { type ApiKeySource, redactSecrets, resolveApiKey } from "./api-key.js";
import {
  type CallOptions,
  type ChatMessage,
  type Choice,
  type FinishReason,
  type GenerateRequest,
  type GenerateResponse,
  type LanguageModel,
  type LanguageModelCapabilities,
  LmCapabilityError,
  LmRequestError,
  normaliseRequest,
  promptText,
  type ScoreResult,
  type TokenLogprob,
  type TopLogprob,
  type Usage,
} from "./language-model.js";
import {
  type BackoffOptions,
  backoffDelay,
  type Clock,
  ConcurrencyLimiter,
  parseRetryAfter,
  RateLimiter,
  realSleep,
  type Sleep,
} from "./request-limits.js";

export type ServerKind = "vllm" | "openai" | "llama.cpp" | "ollama" | "generic";

/** What each kind of server is known to support; override any field with `capabilities`. */
export const SERVER_CAPABILITIES: Readonly<Record<ServerKind, LanguageModelCapabilities>> = {
  vllm: { n: true, seed: true, logprobs: true, topLogprobs: 20, score: true, chat: true, completions: true },
  // OpenAI's legacy completions endpoint no longer echoes logprobs for the prompt
  openai: {
    n: true,
    seed: true,
    logprobs: true,
    topLogprobs: 5,
    score: false,
    chat: true,
    completions: true,
  },
  "llama.cpp": {
    n: false,
    seed: true,
    logprobs: true,
    topLogprobs: 10,
    score: false,
    chat: true,
    completions: true,
  },
  ollama: {
    n: false,
    seed: true,
    logprobs: false,
    topLogprobs: 0,
    score: false,
    chat: true,
    completions: true,
  },
  generic: {
    n: true,
    seed: true,
    logprobs: true,
    topLogprobs: 5,
    score: false,
    chat: true,
    completions: true,
  },
};

export type LoadBalancing = "round-robin" | "least-busy";

export type OpenAICompatibleEvent =
  | { type: "request"; url: string; attempt: number }
  | { type: "response"; url: string; status: number; attempt: number }
  | { type: "retry"; url: string; attempt: number; delayMs: number; reason: string }
  | { type: "rate-limit-wait"; waitedMs: number };

export interface OpenAICompatibleOptions extends ApiKeySource {
  /** One base URL or several (load-balanced), each up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`. */
  baseUrl: string | string[];
  /** The `model` field sent with every request. */
  model: string;
  /** Capability preset. Default "generic". */
  server?: ServerKind;
  /** Overrides of the preset's capabilities. */
  capabilities?: Partial<LanguageModelCapabilities>;
  /** Send string prompts to the chat endpoint as one user message (for chat-only servers). Default false. */
  chatForStringPrompts?: boolean;
  /** Per attempt, until the whole body has arrived. Default 60 000 ms. */
  timeoutMs?: number;
  /** Retries after the first attempt on 429 / 5xx / timeouts / network errors. Default 4. */
  maxRetries?: number;
  backoff?: BackoffOptions;
  /** Requests in flight at once over all base URLs. Default 8. */
  maxConcurrency?: number;
  /** Attempts started per window (retries count). Default unlimited. */
  requestsPerMinute?: number;
  /** Window of the rate limit. Default 60 000 ms; tests use tiny windows. */
  rateLimitWindowMs?: number;
  loadBalancing?: LoadBalancing;
  /** `max_tokens` of a scoring request: vLLM accepts 0 with echo; some servers need 1. Default 1. */
  scoreMaxTokens?: number;
  /** Extra fields merged into every request body (e.g. vLLM's `top_k`). */
  extraBody?: Record<string, unknown>;
  onEvent?: (event: OpenAICompatibleEvent) => void;
  /** Injectable for deterministic tests: jitter source, clock and sleep. */
  random?: () => number;
  clock?: Clock;
  sleep?: Sleep;
  fetch?: typeof fetch;
}

/** The server could not be reached (connection refused, DNS, reset) on any attempt. */
export class LmServerUnreachableError extends AdaptlmError {
  readonly url: string;
  constructor(url: string, message: string) {
    super("LM_SERVER_UNREACHABLE", message);
    this.url = url;
  }
}

/** No complete answer within the timeout on any attempt. */
export class LmTimeoutError extends AdaptlmError {
  readonly url: string;
  constructor(url: string, message: string) {
    super("LM_TIMEOUT", message);
    this.url = url;
  }
}

/** The server answered with an HTTP error (4xx, or 429/5xx after every retry). */
export class LmHttpError extends AdaptlmError {
  readonly url: string;
  readonly status: number;
  readonly serverMessage: string;
  constructor(url: string, status: number, serverMessage: string, message: string) {
    super("LM_HTTP", message);
    this.url = url;
    this.status = status;
    this.serverMessage = serverMessage;
  }
}

/** The server answered 200 with something that is not the OpenAI response shape. */
export class LmMalformedResponseError extends AdaptlmError {
  readonly url: string;
  constructor(url: string, message: string) {
    super("LM_MALFORMED_RESPONSE", message);
    this.url = url;
  }
}

interface Endpoint {
  baseUrl: string;
  inFlight: number;
}

type AttemptFailure =
  | { kind: "network"; url: string; detail: string }
  | { kind: "timeout"; url: string }
  | { kind: "http"; url: string; status: number; serverMessage: string };

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

export class OpenAICompatibleLanguageModel implements LanguageModel {
  readonly model: string;
  readonly capabilities: LanguageModelCapabilities;
  readonly baseUrls: readonly string[];
  #apiKey: string | undefined;
  private readonly options: Omit<OpenAICompatibleOptions, "env">;
  private readonly endpoints: Endpoint[];
  private readonly concurrency: ConcurrencyLimiter;
  private readonly rateLimiter: RateLimiter | undefined;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly fetchImpl: typeof fetch;
  private roundRobin = 0;

  constructor(options: OpenAICompatibleOptions) {
    const baseUrls = (Array.isArray(options.baseUrl) ? options.baseUrl : [options.baseUrl]).map((url) =>
      url.replace(/\/+$/, ""),
    );
    if (baseUrls.length === 0)
      throw new LmRequestError("OpenAI-compatible backend needs at least one base URL");
    for (const url of baseUrls) {
      if (!/^https?:\/\//.test(url)) {
        throw new LmRequestError(`base URL must start with http:// or https://, got "${url}"`);
      }
    }
    if (!options.model) throw new LmRequestError("OpenAI-compatible backend needs a model name");
    // keep no reference to the environment: it holds the key, and this object may be inspected or logged
    const { env: _env, ...rest } = options;
    this.options = rest;
    this.model = options.model;
    this.baseUrls = baseUrls;
    this.endpoints = baseUrls.map((baseUrl) => ({ baseUrl, inFlight: 0 }));
    this.capabilities = { ...SERVER_CAPABILITIES[options.server ?? "generic"], ...options.capabilities };
    this.#apiKey = resolveApiKey(options);
    this.concurrency = new ConcurrencyLimiter(options.maxConcurrency ?? 8);
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    this.fetchImpl = options.fetch ?? fetch;
    this.rateLimiter =
      options.requestsPerMinute === undefined
        ? undefined
        : new RateLimiter(
            options.requestsPerMinute,
            options.rateLimitWindowMs ?? 60_000,
            options.clock,
            this.sleep,
          );
  }

  /** Requests in flight right now, over all base URLs. */
  get inFlight(): number {
    return this.concurrency.inFlight;
  }

  async generate(request: GenerateRequest, options: CallOptions = {}): Promise<GenerateResponse> {
    const normalised = normaliseRequest(request);
    if (normalised.n > 1 && !this.capabilities.n) {
      throw new LmCapabilityError(
        `${this.model} at ${this.baseUrls[0]} is declared without n > 1: use generateSamples(), which sends separate seeded requests`,
      );
    }
    const isChat = typeof normalised.prompt !== "string" || this.options.chatForStringPrompts === true;
    if (isChat && !this.capabilities.chat) {
      throw new LmCapabilityError(`${this.model} at ${this.baseUrls[0]} is declared without a chat endpoint`);
    }
    if (!isChat && !this.capabilities.completions) {
      throw new LmCapabilityError(
        `${this.model} at ${this.baseUrls[0]} is declared without a completions endpoint: pass chat messages or set chatForStringPrompts`,
      );
    }
    const wantLogprobs = normalised.logprobs !== null;
    if (wantLogprobs && !this.capabilities.logprobs) {
      throw new LmCapabilityError(`${this.model} at ${this.baseUrls[0]} is declared without logprobs`);
    }
    const topK = Math.min(normalised.logprobs ?? 0, this.capabilities.topLogprobs);
    const body: Record<string, unknown> = {
      model: this.model,
      max_tokens: normalised.maxTokens,
      temperature: normalised.temperature,
      top_p: normalised.topP,
      n: normalised.n,
    };
    if (normalised.stop.length > 0) body.stop = normalised.stop;
    if (normalised.seed !== null && this.capabilities.seed) body.seed = normalised.seed;
    let path: string;
    if (isChat) {
      path = "/chat/completions";
      const messages: ChatMessage[] =
        typeof normalised.prompt === "string"
          ? [{ role: "user", content: normalised.prompt }]
          : normalised.prompt;
      body.messages = messages;
      if (wantLogprobs) {
        body.logprobs = true;
        if (topK > 0) body.top_logprobs = topK;
      }
    } else {
      path = "/completions";
      body.prompt = normalised.prompt;
      if (wantLogprobs) body.logprobs = topK;
    }
    const { json, url } = await this.post(path, { ...this.options.extraBody, ...body }, options.signal);
    const rawChoices = readChoices(json, url, normalised.n);
    const choices: Choice[] = rawChoices.map((raw) =>
      isChat ? parseChatChoice(raw, url, wantLogprobs) : parseCompletionChoice(raw, url, wantLogprobs),
    );
    const usage = readUsage(json, () => ({
      promptTokens: estimateTokens(promptText(normalised.prompt)),
      completionTokens: choices.reduce(
        (sum, choice) => sum + (choice.logprobs?.length ?? estimateTokens(choice.text)),
        0,
      ),
    }));
    return { choices, usage };
  }

  async score(prompt: string, continuation: string, options: CallOptions = {}): Promise<ScoreResult> {
    if (!this.capabilities.score) {
      throw new LmCapabilityError(
        `${this.model} at ${this.baseUrls[0]} is declared without prompt scoring (echo + logprobs): ` +
          `use server "vllm" or capabilities { score: true } if the server supports echo`,
      );
    }
    if (prompt.length === 0) {
      throw new LmRequestError(
        "score needs a non-empty prompt: the first token of an echoed prompt has no logprob",
      );
    }
    if (continuation.length === 0) throw new LmRequestError("score needs a non-empty continuation");
    const full = prompt + continuation;
    const body = {
      ...this.options.extraBody,
      model: this.model,
      prompt: full,
      max_tokens: this.options.scoreMaxTokens ?? 1,
      temperature: 0,
      echo: true,
      logprobs: 1,
    };
    const { json, url } = await this.post("/completions", body, options.signal);
    const raw = readChoices(json, url, 1)[0];
    const logprobs = raw.logprobs as Record<string, unknown> | null | undefined;
    if (!logprobs || !Array.isArray(logprobs.tokens) || !Array.isArray(logprobs.token_logprobs)) {
      throw new LmMalformedResponseError(
        url,
        `scoring request to ${url} got no echoed logprobs (choices[0].logprobs.tokens/token_logprobs): the server does not support echo with logprobs; declare capabilities { score: false }`,
      );
    }
    const tokens = logprobs.tokens as unknown[];
    const tokenLogprobs = logprobs.token_logprobs as unknown[];
    const topLogprobs = Array.isArray(logprobs.top_logprobs)
      ? (logprobs.top_logprobs as unknown[])
      : undefined;
    const offsets = Array.isArray(logprobs.text_offset) ? (logprobs.text_offset as unknown[]) : undefined;
    // Offsets are in characters (code points) of the echoed text; the continuation is [promptEnd, fullEnd).
    const promptEnd = codePointLength(prompt);
    const fullEnd = promptEnd + codePointLength(continuation);
    const result: ScoreResult = {
      logprob: 0,
      tokens: [],
      tokenLogprobs: [],
      isGreedy: topLogprobs !== undefined,
      usage: readUsage(json, () => ({ promptTokens: tokens.length, completionTokens: 0 })),
    };
    let position = 0;
    for (let i = 0; i < tokens.length; i++) {
      const token = String(tokens[i]);
      const start =
        offsets !== undefined && typeof offsets[i] === "number" ? (offsets[i] as number) : position;
      const end = start + codePointLength(token);
      position = end;
      // a token belongs to the continuation if it overlaps it; a token straddling the boundary is counted
      const overlaps = start < fullEnd && (end > promptEnd || (start >= promptEnd && end === start));
      if (!overlaps) continue;
      const logprob = tokenLogprobs[i];
      if (typeof logprob !== "number") {
        throw new LmMalformedResponseError(
          url,
          `scoring response from ${url} has no logprob for continuation token ${i} (${JSON.stringify(token)})`,
        );
      }
      result.tokens.push(token);
      result.tokenLogprobs.push(logprob);
      result.logprob += logprob;
      if (topLogprobs !== undefined) {
        const top = readTopLogprobs(topLogprobs[i]);
        const best = top.reduce((max, entry) => Math.max(max, entry.logprob), Number.NEGATIVE_INFINITY);
        if (top.length === 0 || logprob < best - 1e-6) result.isGreedy = false;
      }
    }
    if (result.tokens.length === 0) {
      throw new LmMalformedResponseError(
        url,
        `scoring response from ${url} has no tokens in the continuation's span [${promptEnd}, ${fullEnd}) of the echoed text: the server did not echo the prompt`,
      );
    }
    return result;
  }

  /**
   * Asks every base URL for `GET /models` (one attempt each, within the timeout) and returns the model ids each
   * serves. Throws the same typed errors as a request; says so when the configured model is not listed.
   */
  async checkServers(options: CallOptions = {}): Promise<Array<{ baseUrl: string; models: string[] }>> {
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    const out: Array<{ baseUrl: string; models: string[] }> = [];
    for (const baseUrl of this.baseUrls) {
      const url = `${baseUrl}/models`;
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      const onOuterAbort = (): void => controller.abort();
      options.signal?.addEventListener("abort", onOuterAbort, { once: true });
      const headers: Record<string, string> = { accept: "application/json" };
      if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
      let status: number;
      let text: string;
      try {
        const response = await this.fetchImpl(url, { method: "GET", headers, signal: controller.signal });
        status = response.status;
        text = await response.text();
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        throw this.finalError(
          timedOut
            ? { kind: "timeout", url }
            : { kind: "network", url, detail: this.redact(describeNetworkError(error)) },
          1,
        );
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onOuterAbort);
      }
      if (status < 200 || status >= 300) {
        const serverMessage = this.redact(readServerMessage(text));
        throw new LmHttpError(
          url,
          status,
          serverMessage,
          this.httpErrorMessage(url, status, serverMessage, 1),
        );
      }
      let models: string[];
      try {
        const data = (JSON.parse(text) as { data?: unknown }).data;
        if (!Array.isArray(data)) throw new Error("no data array");
        models = data.map((entry) => String((entry as { id?: unknown }).id));
      } catch {
        throw new LmMalformedResponseError(
          url,
          `expected {"data": [{"id": ...}]} from ${url}, got ${JSON.stringify(this.redact(text.slice(0, 200)))}`,
        );
      }
      if (!models.includes(this.model)) {
        throw new LmHttpError(
          url,
          404,
          `model "${this.model}" not listed`,
          `${baseUrl} does not serve model "${this.model}"; it serves [${models.join(", ")}]: fix the model name or start the server with it`,
        );
      }
      out.push({ baseUrl, models });
    }
    return out;
  }

  private pickEndpoint(): Endpoint {
    const count = this.endpoints.length;
    const start = this.roundRobin++ % count;
    if ((this.options.loadBalancing ?? "round-robin") === "round-robin") return this.endpoints[start];
    let best = this.endpoints[start];
    for (let k = 1; k < count; k++) {
      const candidate = this.endpoints[(start + k) % count];
      if (candidate.inFlight < best.inFlight) best = candidate;
    }
    return best;
  }

  private redact(text: string): string {
    return redactSecrets(text, [this.#apiKey]);
  }

  private emit(event: OpenAICompatibleEvent): void {
    this.options.onEvent?.(event);
  }

  /** POSTs JSON with timeouts, retries, the concurrency and rate limits; returns the parsed body. */
  private async post(
    path: string,
    body: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ json: unknown; url: string }> {
    const maxRetries = this.options.maxRetries ?? 4;
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    const payload = JSON.stringify(body);
    let failure: AttemptFailure | undefined;
    let attempt = 0;
    for (; attempt <= maxRetries; attempt++) {
      signal?.throwIfAborted();
      if (this.rateLimiter) {
        const waitedMs = await this.rateLimiter.acquire(signal);
        if (waitedMs > 0) this.emit({ type: "rate-limit-wait", waitedMs });
      }
      await this.concurrency.acquire();
      if (signal?.aborted) {
        this.concurrency.release();
        throw signal.reason;
      }
      const endpoint = this.pickEndpoint();
      const url = endpoint.baseUrl + path;
      endpoint.inFlight++;
      let retryAfterMs: number | undefined;
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      const onOuterAbort = (): void => controller.abort();
      signal?.addEventListener("abort", onOuterAbort, { once: true });
      try {
        this.emit({ type: "request", url, attempt });
        const response = await this.fetchImpl(url, {
          method: "POST",
          headers,
          body: payload,
          signal: controller.signal,
        });
        const text = await response.text();
        this.emit({ type: "response", url, status: response.status, attempt });
        if (response.ok) {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            throw new LmMalformedResponseError(
              url,
              `expected a JSON body from ${url}, got ${JSON.stringify(this.redact(text.slice(0, 200)))}: is the base URL an OpenAI-compatible /v1 endpoint?`,
            );
          }
          const record = json as { error?: unknown; choices?: unknown; data?: unknown } | null;
          if (
            record &&
            typeof record === "object" &&
            record.error !== undefined &&
            record.choices === undefined
          ) {
            // some servers answer 200 with an error object
            throw new LmMalformedResponseError(
              url,
              `${url} answered 200 with an error instead of choices: ${this.redact(readServerMessage(text))}`,
            );
          }
          return { json, url };
        }
        const serverMessage = this.redact(readServerMessage(text));
        if (!RETRYABLE_STATUS.has(response.status) && response.status < 500) {
          throw new LmHttpError(
            url,
            response.status,
            serverMessage,
            this.httpErrorMessage(url, response.status, serverMessage, 1),
          );
        }
        failure = { kind: "http", url, status: response.status, serverMessage };
        retryAfterMs = parseRetryAfter(response.headers);
      } catch (error) {
        if (error instanceof AdaptlmError) throw error;
        if (signal?.aborted) throw signal.reason ?? error;
        if (timedOut) failure = { kind: "timeout", url };
        else failure = { kind: "network", url, detail: this.redact(describeNetworkError(error)) };
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onOuterAbort);
        endpoint.inFlight--;
        this.concurrency.release();
      }
      if (attempt === maxRetries) break;
      const maxDelay = this.options.backoff?.maxDelayMs ?? 30_000;
      const delayMs =
        retryAfterMs !== undefined
          ? Math.min(retryAfterMs, maxDelay)
          : backoffDelay(attempt, this.options.backoff, this.random);
      this.emit({ type: "retry", url, attempt: attempt + 1, delayMs, reason: describeFailure(failure) });
      await this.sleep(delayMs, signal);
    }
    throw this.finalError(failure!, attempt + 1);
  }

  private httpErrorMessage(url: string, status: number, serverMessage: string, attempts: number): string {
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : "";
    let advice = "check the request parameters and the model name";
    if (status === 401 || status === 403) {
      advice = `check the API key (environment variable ${this.options.apiKeyEnv ?? "OPENAI_API_KEY"}${this.options.apiKeyFile ? ` or file ${this.options.apiKeyFile}` : ""})`;
    } else if (status === 404)
      advice = `check the base URL (it should end in /v1) and that the server serves model "${this.model}"`;
    else if (status === 429)
      advice = "the server is rate limiting: lower requestsPerMinute or maxConcurrency, or retry later";
    else if (status >= 500) advice = "the server failed: check its logs";
    return this.redact(
      `${url} answered HTTP ${status}${tries}: ${serverMessage || "(no message)"}; ${advice}`,
    );
  }

  private finalError(failure: AttemptFailure, attempts: number): AdaptlmError {
    if (failure.kind === "http") {
      return new LmHttpError(
        failure.url,
        failure.status,
        failure.serverMessage,
        this.httpErrorMessage(failure.url, failure.status, failure.serverMessage, attempts),
      );
    }
    if (failure.kind === "timeout") {
      return new LmTimeoutError(
        failure.url,
        `no complete answer from ${failure.url} within ${this.options.timeoutMs ?? 60_000} ms on any of ${attempts} attempts: ` +
          "raise timeoutMs, lower maxTokens or maxConcurrency, or check the server's load",
      );
    }
    return new LmServerUnreachableError(
      failure.url,
      this.redact(
        `could not reach ${failure.url} on any of ${attempts} attempts (${failure.detail}): check that the server is running, ` +
          "that host, port and the /v1 prefix of the base URL are right, and that nothing blocks the connection",
      ),
    );
  }
}

function describeFailure(failure: AttemptFailure | undefined): string {
  if (!failure) return "unknown";
  if (failure.kind === "http") return `HTTP ${failure.status}`;
  if (failure.kind === "timeout") return "timeout";
  return failure.detail;
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
  if (typeof code === "string") return code;
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** The error text a server sent: OpenAI `{error: {message}}`, vLLM `{message}`, FastAPI `{detail}`, or raw text. */
function readServerMessage(text: string): string {
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const error = json.error;
    if (typeof error === "string") return error;
    if (
      error &&
      typeof error === "object" &&
      typeof (error as Record<string, unknown>).message === "string"
    ) {
      return (error as Record<string, unknown>).message as string;
    }
    if (typeof json.message === "string") return json.message;
    if (typeof json.detail === "string") return json.detail;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 500).trim();
}

function readChoices(json: unknown, url: string, expected: number): Record<string, unknown>[] {
  const choices = (json as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    throw new LmMalformedResponseError(
      url,
      `expected a non-empty "choices" array in the answer from ${url}, found ${describeShape(json)}`,
    );
  }
  if (choices.length !== expected) {
    throw new LmMalformedResponseError(url, `asked ${url} for ${expected} choices, got ${choices.length}`);
  }
  const sorted = [...choices].sort(
    (a, b) => ((a as { index?: number }).index ?? 0) - ((b as { index?: number }).index ?? 0),
  );
  for (const choice of sorted) {
    if (!choice || typeof choice !== "object") {
      throw new LmMalformedResponseError(
        url,
        `expected objects in "choices" from ${url}, found ${describeShape(choice)}`,
      );
    }
  }
  return sorted as Record<string, unknown>[];
}

function describeShape(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object")
    return `an object with keys [${Object.keys(value as object)
      .slice(0, 10)
      .join(", ")}]`;
  return typeof value;
}

function finishReason(raw: unknown): FinishReason {
  return raw === "stop" || raw === "eos" ? "stop" : raw === "length" ? "length" : "other";
}

function parseCompletionChoice(raw: Record<string, unknown>, url: string, wantLogprobs: boolean): Choice {
  if (typeof raw.text !== "string") {
    throw new LmMalformedResponseError(
      url,
      `expected a string "text" in each completion choice from ${url}, found ${describeShape(raw.text)}`,
    );
  }
  const choice: Choice = { text: raw.text, finishReason: finishReason(raw.finish_reason) };
  if (wantLogprobs) {
    const logprobs = raw.logprobs as Record<string, unknown> | null | undefined;
    if (!logprobs || !Array.isArray(logprobs.tokens) || !Array.isArray(logprobs.token_logprobs)) {
      throw new LmMalformedResponseError(
        url,
        `asked ${url} for logprobs but the choice has no logprobs.tokens/token_logprobs`,
      );
    }
    const tops = Array.isArray(logprobs.top_logprobs) ? logprobs.top_logprobs : [];
    choice.logprobs = (logprobs.tokens as unknown[]).map((token, i) => {
      const entry: TokenLogprob = {
        token: String(token),
        logprob: Number((logprobs.token_logprobs as unknown[])[i]),
      };
      const top = readTopLogprobs(tops[i]);
      if (top.length > 0) entry.topLogprobs = top;
      return entry;
    });
  }
  return choice;
}

function parseChatChoice(raw: Record<string, unknown>, url: string, wantLogprobs: boolean): Choice {
  const message = raw.message as { content?: unknown } | undefined;
  if (!message || (typeof message.content !== "string" && message.content !== null)) {
    throw new LmMalformedResponseError(
      url,
      `expected "message.content" in each chat choice from ${url}, found ${describeShape(message)}`,
    );
  }
  const choice: Choice = {
    text: (message.content as string | null) ?? "",
    finishReason: finishReason(raw.finish_reason),
  };
  if (wantLogprobs) {
    const content = (raw.logprobs as { content?: unknown } | null | undefined)?.content;
    if (!Array.isArray(content)) {
      throw new LmMalformedResponseError(
        url,
        `asked ${url} for logprobs but the chat choice has no logprobs.content array`,
      );
    }
    choice.logprobs = content.map((item) => {
      const record = item as Record<string, unknown>;
      const entry: TokenLogprob = { token: String(record.token), logprob: Number(record.logprob) };
      const top = readTopLogprobs(record.top_logprobs);
      if (top.length > 0) entry.topLogprobs = top;
      return entry;
    });
  }
  return choice;
}

/** Top logprobs in either shape: completions `{token: logprob}` or chat `[{token, logprob}]`; most likely first. */
function readTopLogprobs(raw: unknown): TopLogprob[] {
  let entries: TopLogprob[] = [];
  if (Array.isArray(raw)) {
    entries = raw.map((item) => ({
      token: String((item as TopLogprob).token),
      logprob: Number((item as TopLogprob).logprob),
    }));
  } else if (raw && typeof raw === "object") {
    entries = Object.entries(raw as Record<string, unknown>).map(([token, logprob]) => ({
      token,
      logprob: Number(logprob),
    }));
  }
  return entries
    .filter((entry) => Number.isFinite(entry.logprob) || entry.logprob === Number.NEGATIVE_INFINITY)
    .sort((a, b) => b.logprob - a.logprob);
}

function readUsage(json: unknown, estimate: () => Usage): Usage {
  const usage = (json as { usage?: Record<string, unknown> } | null)?.usage;
  if (usage && typeof usage.prompt_tokens === "number" && typeof usage.completion_tokens === "number") {
    return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
  }
  return estimate();
}

/** Rough token count (4 characters a token) for servers that report no usage. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
