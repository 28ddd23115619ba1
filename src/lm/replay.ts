// Recorded answers: `RecordingLanguageModel` wraps any LanguageModel and appends each request and its answer
// to a JSONL file; `ReplayLanguageModel` answers from such a file without a model or a server, so an evaluation
// can be rerun, inspected and re-scored offline and tests can replay real transcripts.
//
// One JSON object a line:
//   {"kind":"meta","model":"...","capabilities":{...}}                       (first line, optional)
//   {"kind":"generate","model":"...","request":<normalised request>,"response":{choices,usage}}
//   {"kind":"score","model":"...","prompt":"...","continuation":"...","result":{logprob,tokens,...}}
// Requests are matched on their normalised form (defaults filled, keys sorted). A request recorded several
// times is answered with its recordings in order; after the last, the last repeats (or, with `strict`, throws).

import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { AdaptlmError } from "../errors.js";
import {
  type CallOptions,
  denormaliseRequest,
  type GenerateRequest,
  type GenerateResponse,
  type LanguageModel,
  type LanguageModelCapabilities,
  LmCapabilityError,
  normaliseRequest,
  promptText,
  type ScoreResult,
  stableStringify,
} from "./language-model.js";

export type ReplayRecord =
  | { kind: "meta"; model: string; capabilities: LanguageModelCapabilities }
  | {
      kind: "generate";
      model: string;
      request: ReturnType<typeof normaliseRequest>;
      response: GenerateResponse;
    }
  | { kind: "score"; model: string; prompt: string; continuation: string; result: ScoreResult };

/** A request that the recording does not hold. */
export class ReplayMissError extends AdaptlmError {
  constructor(message: string) {
    super("LM_REPLAY_MISS", message);
  }
}

/** A recording file that cannot be read or parsed. */
export class ReplayFileError extends AdaptlmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("LM_REPLAY_FILE", message, options);
  }
}

const ALL_CAPABILITIES: LanguageModelCapabilities = {
  n: true,
  seed: true,
  logprobs: true,
  topLogprobs: 20,
  score: true,
  chat: true,
  completions: true,
};

export interface ReplayOptions {
  /** Answer only for this model's records (default: the meta line's model, else every record). */
  model?: string;
  /** Overrides the capabilities of the meta line (default: the meta line's, else all). */
  capabilities?: Partial<LanguageModelCapabilities>;
  /** Throw when a request was asked more often than recorded, instead of repeating the last answer. */
  strict?: boolean;
}

function generateKey(request: GenerateRequest): string {
  return stableStringify(normaliseRequest(request));
}

function scoreKey(prompt: string, continuation: string): string {
  return stableStringify([prompt, continuation]);
}

function clip(text: string, length = 80): string {
  return text.length <= length ? text : `${text.slice(0, length)}...`;
}

export class ReplayLanguageModel implements LanguageModel {
  readonly model: string;
  readonly capabilities: LanguageModelCapabilities;
  private readonly strict: boolean;
  private readonly generations = new Map<string, { answers: GenerateResponse[]; served: number }>();
  private readonly scores = new Map<string, { answers: ScoreResult[]; served: number }>();

  constructor(records: Iterable<ReplayRecord>, options: ReplayOptions = {}) {
    const list = [...records];
    const meta = list.find((record) => record.kind === "meta");
    const model = options.model ?? meta?.model;
    this.model = model ?? "replay";
    this.capabilities = {
      ...(meta?.kind === "meta" ? meta.capabilities : ALL_CAPABILITIES),
      ...options.capabilities,
    };
    this.strict = options.strict ?? false;
    for (const record of list) {
      if (model !== undefined && record.model !== model) continue;
      if (record.kind === "generate") {
        const key = generateKey(denormaliseRequest(record.request));
        const entry = this.generations.get(key) ?? { answers: [], served: 0 };
        entry.answers.push(record.response);
        this.generations.set(key, entry);
      } else if (record.kind === "score") {
        const key = scoreKey(record.prompt, record.continuation);
        const entry = this.scores.get(key) ?? { answers: [], served: 0 };
        entry.answers.push(record.result);
        this.scores.set(key, entry);
      }
    }
  }

  /** Reads a JSONL recording; blank lines are skipped, a bad line is reported with its number. */
  static fromFile(path: string, options: ReplayOptions = {}): ReplayLanguageModel {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new ReplayFileError(
        `cannot read the recording ${path} (${(error as NodeJS.ErrnoException).code ?? "unreadable"}): check the path`,
        { cause: error },
      );
    }
    return new ReplayLanguageModel(parseRecords(text, path), options);
  }

  async generate(request: GenerateRequest, _options?: CallOptions): Promise<GenerateResponse> {
    const entry = this.generations.get(generateKey(request));
    if (!entry) {
      throw new ReplayMissError(
        `the recording for ${this.model} has no answer for the request with prompt ${JSON.stringify(clip(promptText(request.prompt)))} ` +
          "and these parameters: record it first (RecordingLanguageModel), or check that prompts and parameters match the recorded run",
      );
    }
    return structuredClone(this.take(entry, "request"));
  }

  async score(prompt: string, continuation: string, _options?: CallOptions): Promise<ScoreResult> {
    if (!this.capabilities.score)
      throw new LmCapabilityError(`the recording for ${this.model} is declared without score`);
    const entry = this.scores.get(scoreKey(prompt, continuation));
    if (!entry) {
      throw new ReplayMissError(
        `the recording for ${this.model} has no score of continuation ${JSON.stringify(clip(continuation))} after prompt ${JSON.stringify(clip(prompt))}`,
      );
    }
    return structuredClone(this.take(entry, "score request"));
  }

  private take<T>(entry: { answers: T[]; served: number }, what: string): T {
    if (entry.served >= entry.answers.length && this.strict) {
      throw new ReplayMissError(
        `this ${what} was recorded ${entry.answers.length} time(s) and has been asked again: replay without strict to repeat the last answer`,
      );
    }
    const answer = entry.answers[Math.min(entry.served, entry.answers.length - 1)];
    entry.served++;
    return answer;
  }
}

export function parseRecords(text: string, source = "recording"): ReplayRecord[] {
  const records: ReplayRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let record: ReplayRecord;
    try {
      record = JSON.parse(line) as ReplayRecord;
    } catch (error) {
      throw new ReplayFileError(`line ${i + 1} of ${source} is not JSON: ${clip(line)}`, { cause: error });
    }
    if (record.kind !== "meta" && record.kind !== "generate" && record.kind !== "score") {
      throw new ReplayFileError(
        `line ${i + 1} of ${source} has kind ${JSON.stringify((record as { kind?: unknown }).kind)}; expected "meta", "generate" or "score"`,
      );
    }
    records.push(record);
  }
  return records;
}

/**
 * Passes every call to `inner` and appends the request and its answer to a JSONL file (synchronously, so a
 * crash loses at most the call in flight). Failed calls are not recorded. Requests carry no API key, so
 * neither does the file.
 */
export class RecordingLanguageModel implements LanguageModel {
  readonly model: string;
  readonly capabilities: LanguageModelCapabilities;
  readonly path: string;
  private readonly inner: LanguageModel;

  constructor(inner: LanguageModel, path: string) {
    this.inner = inner;
    this.model = inner.model;
    this.capabilities = inner.capabilities;
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.append({ kind: "meta", model: inner.model, capabilities: inner.capabilities });
  }

  async generate(request: GenerateRequest, options?: CallOptions): Promise<GenerateResponse> {
    const normalised = normaliseRequest(request);
    const response = await this.inner.generate(request, options);
    const { cached: _cached, ...recorded } = response;
    this.append({ kind: "generate", model: this.model, request: normalised, response: recorded });
    return response;
  }

  async score(prompt: string, continuation: string, options?: CallOptions): Promise<ScoreResult> {
    const result = await this.inner.score(prompt, continuation, options);
    const { cached: _cached, ...recorded } = result;
    this.append({ kind: "score", model: this.model, prompt, continuation, result: recorded });
    return result;
  }

  private append(record: ReplayRecord): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}
