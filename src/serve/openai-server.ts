// An OpenAI-compatible HTTP server over the local engine (the subset vLLM serves and adaptlm's own
// OpenAI-compatible backend uses):
//   GET  /v1/models               the one model served
//   POST /v1/completions          prompt (string), max_tokens, temperature, top_p, n, seed, stop, logprobs (k),
//                                 echo (prompt tokens with their logprobs, as vLLM: the basis of scoring), stream
//   POST /v1/chat/completions     messages, the same sampling fields, logprobs + top_logprobs, stream, and
//                                 vLLM's add_generation_prompt and chat_template_kwargs
// Streaming is Server-Sent Events (`data: <chunk>\n\n` ... `data: [DONE]\n\n`). Generation yields to the event
// loop between tokens, so chunks leave as they are made; requests run one at a time (the engine uses every
// core), others wait in a bounded queue.
//
// Chat: messages are rendered with the model's chat template (tokenizer_config.json's chat_template, or one
// given in the options) as transformers' apply_chat_template renders them, and encoded without the tokenizer's
// own special tokens (as vLLM does). A model without a template answers chat requests with a 400 saying so,
// unless the server was started with `plainChat`: then "<role>: <content>\n" per message then "assistant:",
// stopping at "\nuser:".
//
// Adapters (as vLLM serves LoRA modules): several PEFT adapter folders on the one frozen base, requested through
// the `model` field as "<base>:<adapter>"; /v1/models lists the base and every "<base>:<adapter>". Requests run
// one at a time, so the adapter a request names is attached for its generation (AdapterSet.use) and a request
// for the base detaches it again. Adapters that change the model's layers (LoRA, BitFit) act through
// the attached modules; prompt tuning through a wrapped model that puts its virtual tokens in front of each
// prompt (prompt-tuned-model.ts); prefix tuning through a wrapped model that puts its keys/values at the start
// of the KV cache (prefix-tuned-model.ts).
//
// Safety: binds 127.0.0.1 unless told otherwise; optional bearer key; limits on body size, max_tokens, n and
// queue length answer with OpenAI-style JSON errors (400, 401, 404, 413, 429). Nothing is printed.

import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { AdaptlmError } from "../errors.js";
import { CausalLMTaskModel } from "../heads/causal-lm.js";
import { readGenerationConfig } from "../io/generation-config.js";
import { modelFolder } from "../lm/local-engine.js";
import type { GPT2LMHeadModel } from "../models/gpt2.js";
import type { LlamaForCausalLM } from "../models/llama.js";
import { type LoadedModel, requireTokenizer } from "../models/load-model.js";
import { sequenceLogprobs } from "../models/score.js";
import { causalModel, generateTextAsync, type TextSample } from "../models/text-generation.js";
import { AdapterSet } from "../peft/adapter-set.js";
import type { Adapter } from "../peft/method.js";
import { PrefixTuningAdapter } from "../peft/prefix.js";
import {
  type ChatFormat,
  ChatTemplateError,
  type ChatTemplateSources,
  chatFormatFor,
} from "../tokenizers/chat-template.js";
import { DecodeStream } from "../tokenizers/decode-stream.js";
import { prefixTunedModel } from "./prefix-tuned-model.js";
import { promptTunedModel } from "./prompt-tuned-model.js";

export interface ServeOptions {
  /** Name clients send as `model` (default "local"). */
  modelName?: string;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 8000; 0 = any free port). */
  port?: number;
  /** Bearer key clients must send; none = open. */
  apiKey?: string;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest max_tokens accepted (default 1024). */
  maxTokens?: number;
  /** Largest n accepted (default 16). */
  maxN?: number;
  /** Requests running or waiting at most; beyond it 429 (default 16). */
  maxQueue?: number;
  /** Chat templates to use instead of the model's (see readChatTemplateFile). */
  chatTemplates?: ChatTemplateSources;
  /** Which of several named templates (default "default"). */
  chatTemplateName?: string;
  /** Without a chat template, render chat as the plain "role: content" transcript instead of refusing it. */
  plainChat?: boolean;
  /**
   * Adapters by name, served as "<modelName>:<name>" (detached adapters, e.g. from loadAdapter). Names may not
   * contain ":".
   */
  adapters?: ReadonlyMap<string, Adapter>;
  /** Called for every finished request (method, path, status, milliseconds), for the CLI's log. */
  onRequest?: (event: { method: string; path: string; status: number; ms: number }) => void;
}

export interface RunningServer {
  /** Base URL of the API, e.g. http://127.0.0.1:8000/v1 */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** A server that cannot start as configured (bad adapter name, unservable adapter). Code: SERVE_ADAPTER. */
export class ServeError extends AdaptlmError {}

/** The adapters on one base, checked against it: each attaches (so its tensors fit this architecture). */
function adapterSetFor(loaded: LoadedModel, adapters: ReadonlyMap<string, Adapter>): AdapterSet | null {
  if (adapters.size === 0) return null;
  const set = new AdapterSet(
    new CausalLMTaskModel(causalModel(loaded) as unknown as GPT2LMHeadModel | LlamaForCausalLM),
  );
  for (const [name, adapter] of adapters) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new ServeError(
        "SERVE_ADAPTER",
        `adapter name ${JSON.stringify(name)} must be letters, digits, ".", "_" or "-" (it is requested as "<base>:<name>")`,
      );
    }
    set.add(name, adapter);
    try {
      set.use(name);
    } finally {
      set.use(null);
    }
  }
  return set;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

const MAX_TOP_LOGPROBS = 20;

interface SamplingFields {
  maxTokens: number;
  temperature: number;
  topP: number;
  n: number;
  seed: number;
  stop: string[];
}

function numberField(
  body: Record<string, unknown>,
  name: string,
  fallback: number,
  check: { integer?: boolean; min?: number; max?: number },
): number {
  const raw = body[name];
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== "number" || !Number.isFinite(raw) || (check.integer && !Number.isInteger(raw))) {
    throw new HttpError(
      400,
      `"${name}" must be ${check.integer ? "an integer" : "a number"}, got ${JSON.stringify(raw)}`,
    );
  }
  if (check.min !== undefined && raw < check.min)
    throw new HttpError(400, `"${name}" must be >= ${check.min}, got ${raw}`);
  if (check.max !== undefined && raw > check.max) {
    throw new HttpError(400, `"${name}" must be <= ${check.max} on this server, got ${raw}`);
  }
  return raw;
}

export async function startOpenAIServer(
  loaded: LoadedModel,
  options: ServeOptions = {},
): Promise<RunningServer> {
  causalModel(loaded);
  const tokenizer = requireTokenizer(loaded);
  const name = options.modelName ?? "local";
  // ids that end a turn or a text for this model besides config.json's eos (e.g. Llama 3's <|eot_id|>)
  const folder = modelFolder(loaded);
  const modelEosIds = (folder ? readGenerationConfig(folder) : null)?.eosTokenIds ?? [];
  const adapterSet = adapterSetFor(loaded, options.adapters ?? new Map());
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxTokens = options.maxTokens ?? 1024;
  const maxN = options.maxN ?? 16;
  const maxQueue = options.maxQueue ?? 16;
  const created = Math.floor(Date.now() / 1000);
  // Resolved once: a bad template fails the start; a missing one fails each chat request with the reason.
  let chatFormat: ChatFormat | null = null;
  let chatUnavailable: string | null = null;
  try {
    chatFormat = chatFormatFor(
      modelFolder(loaded),
      tokenizer,
      {
        ...(options.chatTemplates ? { templates: options.chatTemplates } : {}),
        ...(options.chatTemplateName ? { name: options.chatTemplateName } : {}),
        ...(options.plainChat ? { plainFallback: true } : {}),
      },
      `model "${name}"`,
    );
  } catch (error) {
    if (!(error instanceof ChatTemplateError && error.code === "CHAT_TEMPLATE_MISSING")) throw error;
    chatUnavailable = `${error.message} (start adaptlm serve with --chat-template FILE or --plain-chat)`;
  }
  let queued = 0;
  let tail: Promise<unknown> = Promise.resolve();

  /** Runs jobs one at a time, in arrival order. */
  const exclusive = <T>(job: () => Promise<T>): Promise<T> => {
    const run = tail.then(job, job);
    tail = run.catch(() => undefined);
    return run;
  };

  const sampling = (body: Record<string, unknown>, defaultMax: number): SamplingFields => {
    const stopRaw = body.stop;
    let stop: string[] = [];
    if (typeof stopRaw === "string") stop = [stopRaw];
    else if (Array.isArray(stopRaw) && stopRaw.every((s) => typeof s === "string"))
      stop = stopRaw as string[];
    else if (stopRaw !== undefined && stopRaw !== null)
      throw new HttpError(400, '"stop" must be a string or an array of strings');
    return {
      maxTokens: numberField(body, "max_tokens", Math.min(defaultMax, maxTokens), {
        integer: true,
        min: 0,
        max: maxTokens,
      }),
      temperature: numberField(body, "temperature", 1, { min: 0, max: 2 }),
      topP: numberField(body, "top_p", 1, { min: Number.MIN_VALUE, max: 1 }),
      n: numberField(body, "n", 1, { integer: true, min: 1, max: maxN }),
      seed: numberField(body, "seed", 0, { integer: true }),
      stop,
    };
  };

  const servedIds = (): string[] => [
    name,
    ...(adapterSet?.names() ?? []).map((adapter) => `${name}:${adapter}`),
  ];

  /**
   * The model a request names (default: the base) and the adapter it needs, made active: requests run one
   * at a time, so the adapter stays attached for exactly this request's generation.
   */
  const useModel = (body: Record<string, unknown>): { model: string; view: LoadedModel } => {
    const requested = body.model;
    if (requested === undefined || requested === null || requested === name) {
      adapterSet?.use(null);
      return { model: name, view: loaded };
    }
    if (typeof requested === "string" && requested.startsWith(`${name}:`)) {
      const adapter = requested.slice(name.length + 1);
      if (!adapterSet?.names().includes(adapter)) {
        const loaded = adapterSet?.names() ?? [];
        throw new HttpError(
          404,
          `adapter "${adapter}" is not loaded on this server (${
            loaded.length > 0
              ? `loaded: ${loaded.map((a) => `"${name}:${a}"`).join(", ")}`
              : "no adapters loaded"
          }); start adaptlm serve with --adapter ${adapter}=DIR`,
          "invalid_request_error",
          "model_not_found",
        );
      }
      const active = adapterSet.use(adapter) as Adapter;
      // virtual-token adapters act on the inputs or the cache, not the layers: generation sees a wrapped model
      const view: LoadedModel =
        active instanceof PrefixTuningAdapter
          ? ({ ...loaded, model: prefixTunedModel(causalModel(loaded), active) } as LoadedModel)
          : active.virtualTokens > 0
            ? ({ ...loaded, model: promptTunedModel(causalModel(loaded), active) } as LoadedModel)
            : loaded;
      return { model: requested, view };
    }
    throw new HttpError(
      404,
      `model ${JSON.stringify(requested)} is not served here; this server serves ${servedIds()
        .map((id) => `"${id}"`)
        .join(", ")}`,
      "invalid_request_error",
      "model_not_found",
    );
  };

  const finishReason = (sample: TextSample): string => (sample.finishReason === "length" ? "length" : "stop");

  const tokenTextsOf = (ids: readonly number[]): string[] => {
    const stream = new DecodeStream(tokenizer, { skipSpecialTokens: true });
    return ids.map((id) => stream.step(id));
  };

  const codePoints = (text: string): number => [...text].length;

  async function completions(body: Record<string, unknown>, res: ServerResponse, id: string): Promise<void> {
    const { model, view } = useModel(body);
    if (typeof body.prompt !== "string") {
      throw new HttpError(
        400,
        '"prompt" must be a string (arrays of prompts and token ids are not supported)',
      );
    }
    const prompt = body.prompt;
    const fields = sampling(body, 16);
    const echo = body.echo === true;
    const logprobs =
      body.logprobs === undefined || body.logprobs === null
        ? null
        : numberField(body, "logprobs", 0, { integer: true, min: 0, max: MAX_TOP_LOGPROBS });
    const stream = body.stream === true;
    if (stream && echo) throw new HttpError(400, '"echo" cannot be combined with "stream" here');
    const chunk = (index: number, text: string, finish: string | null) =>
      `data: ${JSON.stringify({ id, object: "text_completion", created, model, choices: [{ index, text, logprobs: null, finish_reason: finish }] })}\n\n`;
    if (stream) startEvents(res);
    const result = await generateTextAsync(view, [prompt], {
      ...fields,
      signal: disconnected(res),
      topLogprobs: logprobs ?? 0,
      extraEosTokenIds: modelEosIds,
      ...(stream
        ? { onText: (_p: number, sample: number, text: string) => res.write(chunk(sample, text, null)) }
        : {}),
    }).catch((error: unknown) => {
      if (fields.maxTokens === 0 && error instanceof AdaptlmError) return null;
      throw error;
    });
    const promptIds = result?.promptIds[0] ?? [];
    const samples =
      result?.samples[0] ??
      Array.from({ length: fields.n }, (): TextSample => ({ text: "", tokens: [], finishReason: "length" }));
    const completionTokens = samples.reduce((a, s) => a + s.tokens.length, 0);
    if (stream) {
      samples.forEach((sample, index) => {
        res.write(chunk(index, "", finishReason(sample)));
      });
      res.end("data: [DONE]\n\n");
      return;
    }
    let echoed: {
      tokens: string[];
      logprobs: (number | null)[];
      top: (Record<string, number> | null)[];
    } | null = null;
    if (echo) {
      const ids = result ? promptIds : tokenizer.encode(prompt).ids;
      const positions = sequenceLogprobs(causalModel(view), ids, Math.max(1, logprobs ?? 0));
      const texts = tokenTextsOf(ids);
      echoed = {
        tokens: texts,
        logprobs: positions.map((p) => p.logprob),
        top: positions.map((p, t) =>
          t === 0
            ? null
            : Object.fromEntries(p.top.map((a) => [tokenTextAfter(ids[t - 1], a.token), a.logprob])),
        ),
      };
    }
    const choices = samples.map((sample, index) => {
      let logprobsOut: unknown = null;
      if (logprobs !== null || echo) {
        const tokens = [
          ...(echoed?.tokens ?? []),
          ...(logprobs !== null ? sample.tokens.map((t) => t.text) : []),
        ];
        const tokenLogprobs = [
          ...(echoed?.logprobs ?? []),
          ...(logprobs !== null ? sample.tokens.map((t) => t.logprob) : []),
        ];
        const top = [
          ...(echoed?.top ?? []),
          ...(logprobs !== null
            ? sample.tokens.map((t) => Object.fromEntries(t.topLogprobs.map((a) => [a.text, a.logprob])))
            : []),
        ];
        const offsets: number[] = [];
        let at = 0;
        for (const token of tokens) {
          offsets.push(at);
          at += codePoints(token);
        }
        logprobsOut = { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: offsets };
      }
      return {
        index,
        text: (echo ? prompt : "") + sample.text,
        logprobs: logprobsOut,
        finish_reason: finishReason(sample),
      };
    });
    const promptTokens = promptIds.length || tokenizer.encode(prompt).ids.length;
    sendJson(res, 200, {
      id,
      object: "text_completion",
      created,
      model,
      choices,
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    });
  }

  function tokenTextAfter(previous: number, id: number): string {
    const before = tokenizer.decode([previous]);
    const both = tokenizer.decode([previous, id]);
    return both.startsWith(before) ? both.slice(before.length) : tokenizer.decode([id]);
  }

  async function chat(body: Record<string, unknown>, res: ServerResponse, id: string): Promise<void> {
    const { model, view } = useModel(body);
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0)
      throw new HttpError(400, '"messages" must be a non-empty array');
    const checked = messages.map((m, i) => {
      const message = m as { role?: unknown; content?: unknown };
      if (typeof message.role !== "string" || typeof message.content !== "string") {
        throw new HttpError(400, `messages[${i}] needs a string "role" and a string "content"`);
      }
      return { role: message.role, content: message.content };
    });
    if (!chatFormat)
      throw new HttpError(
        400,
        chatUnavailable ?? "chat is not available",
        undefined,
        "chat_template_missing",
      );
    const format = chatFormat;
    // vLLM's extensions of the chat request: add_generation_prompt and chat_template_kwargs
    const addGenerationPrompt = body.add_generation_prompt ?? true;
    if (typeof addGenerationPrompt !== "boolean")
      throw new HttpError(400, '"add_generation_prompt" must be true or false');
    const kwargs = body.chat_template_kwargs ?? {};
    if (typeof kwargs !== "object" || kwargs === null || Array.isArray(kwargs))
      throw new HttpError(400, '"chat_template_kwargs" must be an object of template variables');
    let prompt: string;
    try {
      prompt = format.render(checked, { addGenerationPrompt, variables: kwargs as Record<string, unknown> });
    } catch (error) {
      if (error instanceof ChatTemplateError) throw new HttpError(400, error.message);
      throw error;
    }
    const fields = sampling(body, maxTokens);
    fields.stop = [...fields.stop, ...format.stop];
    const wantLogprobs = body.logprobs === true;
    const topK = wantLogprobs
      ? numberField(body, "top_logprobs", 0, { integer: true, min: 0, max: MAX_TOP_LOGPROBS })
      : 0;
    const stream = body.stream === true;
    const object = "chat.completion.chunk";
    const chunk = (index: number, delta: Record<string, string>, finish: string | null) =>
      `data: ${JSON.stringify({ id, object, created, model, choices: [{ index, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    if (stream) {
      startEvents(res);
      for (let index = 0; index < fields.n; index++)
        res.write(chunk(index, { role: "assistant", content: "" }, null));
    }
    // The plain transcript leaves a space after "assistant:" to the model; cleanReply drops it from the first text.
    const started = new Set<number>();
    const result = await generateTextAsync(view, [prompt], {
      ...fields,
      signal: disconnected(res),
      topLogprobs: topK,
      addSpecialTokens: format.addSpecialTokens,
      extraEosTokenIds: [...modelEosIds, ...format.endOfTurnTokenIds],
      ...(stream
        ? {
            onText: (_p: number, sample: number, text: string) => {
              const content = started.has(sample) ? text : format.cleanReply(text);
              started.add(sample);
              if (content) res.write(chunk(sample, { content }, null));
            },
          }
        : {}),
    });
    const samples = result.samples[0];
    if (stream) {
      samples.forEach((sample, index) => {
        res.write(chunk(index, {}, finishReason(sample)));
      });
      res.end("data: [DONE]\n\n");
      return;
    }
    const completionTokens = samples.reduce((a, s) => a + s.tokens.length, 0);
    const promptTokens = result.promptIds[0].length;
    sendJson(res, 200, {
      id,
      object: "chat.completion",
      created,
      model,
      choices: samples.map((sample, index) => ({
        index,
        message: { role: "assistant", content: format.cleanReply(sample.text) },
        logprobs: wantLogprobs
          ? {
              content: sample.tokens.map((t) => ({
                token: t.text,
                logprob: t.logprob,
                top_logprobs: t.topLogprobs.map((a) => ({ token: a.text, logprob: a.logprob })),
              })),
            }
          : null,
        finish_reason: finishReason(sample),
      })),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    });
  }

  const authorised = (req: IncomingMessage): boolean => {
    if (!options.apiKey) return true;
    const header = req.headers.authorization ?? "";
    const expected = Buffer.from(`Bearer ${options.apiKey}`);
    const given = Buffer.from(header);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0].replace(/\/+$/, "");
    if (!authorised(req))
      throw new HttpError(
        401,
        "missing or wrong API key: send Authorization: Bearer <key>",
        "authentication_error",
      );
    if (req.method === "GET" && path === "/v1/models") {
      sendJson(res, 200, {
        object: "list",
        data: servedIds().map((id) => ({
          id,
          object: "model",
          created,
          owned_by: "adaptlm",
          root: name,
          parent: id === name ? null : name,
        })),
      });
      return;
    }
    const routes: Record<string, typeof completions> = {
      "/v1/completions": completions,
      "/v1/chat/completions": chat,
    };
    const route = routes[path];
    if (!route)
      throw new HttpError(
        404,
        `no route ${req.method} ${path}: this server has GET /v1/models, POST /v1/completions, POST /v1/chat/completions`,
      );
    if (req.method !== "POST") throw new HttpError(405, `${path} takes POST`);
    const body = await readJson(req, maxBody);
    if (queued >= maxQueue) {
      throw new HttpError(
        429,
        `server busy: ${queued} requests running or queued (limit ${maxQueue}); retry later`,
        "rate_limit_error",
      );
    }
    queued++;
    try {
      await exclusive(() => route(body, res, `cmpl-${randomBytes(12).toString("hex")}`));
    } finally {
      queued--;
    }
  };

  const server = createServer((req, res) => {
    const started = Date.now();
    res.on("finish", () =>
      options.onRequest?.({
        method: req.method ?? "",
        path: req.url ?? "",
        status: res.statusCode,
        ms: Date.now() - started,
      }),
    );
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (error instanceof HttpError) {
        sendJson(res, error.status, {
          error: { message: error.message, type: error.type, param: null, code: error.code },
        });
      } else if (error instanceof AdaptlmError) {
        sendJson(res, 400, {
          error: { message: error.message, type: "invalid_request_error", param: null, code: error.code },
        });
      } else {
        sendJson(res, 500, {
          error: {
            message: "internal error in the local engine",
            type: "server_error",
            param: null,
            code: null,
          },
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8000, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/v1`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Aborted when the client goes away before the response is complete (generation then stops). */
function disconnected(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function startEvents(res: ServerResponse): void {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
}

function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(
        new HttpError(413, `request body of ${declared} bytes exceeds this server's limit of ${limit} bytes`),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit && !failed) {
        failed = true;
        reject(new HttpError(413, `request body exceeds this server's limit of ${limit} bytes`));
      }
      if (!failed) chunks.push(chunk);
    });
    req.on("end", () => {
      if (failed) return;
      try {
        const value = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
        if (typeof value !== "object" || value === null || Array.isArray(value))
          throw new Error("not an object");
        resolve(value as Record<string, unknown>);
      } catch {
        reject(new HttpError(400, "the request body must be a JSON object"));
      }
    });
    req.on("error", reject);
  });
}
