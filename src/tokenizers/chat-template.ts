// Chat templates: the Jinja template a chat model ships in tokenizer_config.json ("chat_template": a string,
// or a list of {name, template}), chat_template.jinja or chat_template.json, rendered with @huggingface/jinja
// the way transformers' `apply_chat_template` renders it: `messages`, `add_generation_prompt` and the special
// tokens (`bos_token`, `eos_token`, ...) as variables, trim_blocks/lstrip_blocks on, `raise_exception` for the
// template's own checks. The rendered text is then encoded WITHOUT the tokenizer's own special tokens
// (transformers and vLLM pass add_special_tokens=False for chat), since the template writes them itself.
//
// Models without a template (base models, llama2.c checkpoints) get a typed error. A caller may opt into the
// plain transcript fallback instead: "<role>: <content>\n" per message, then "assistant:" (generation stops
// at "\nuser:"), which any base model can continue but which is no model's trained format.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { TokenizerError } from "./errors.js";
import { readJsonFile } from "./hf-config.js";
import type { Tokenizer } from "./tokenizer.js";

/**
 * Codes: CHAT_TEMPLATE_MISSING (the model has none), CHAT_TEMPLATE_BAD (the template field or its Jinja does
 * not parse), CHAT_TEMPLATE_NAME (no template of the asked name), CHAT_TEMPLATE_RENDER (the template raised,
 * e.g. "Conversation roles must alternate", or failed on these messages).
 */
export class ChatTemplateError extends TokenizerError {}

export interface ChatTemplateMessage {
  role: string;
  content: string;
}

export interface RenderChatOptions {
  /** End with the header of an assistant turn, for the model to write it (transformers' add_generation_prompt). Default true. */
  addGenerationPrompt?: boolean;
  /** Further template variables (transformers' **kwargs to apply_chat_template), e.g. {enable_thinking: false}. */
  variables?: Record<string, unknown>;
}

/** Named template sources: a single template is named "default", as transformers names it. */
export type ChatTemplateSources = Record<string, string>;

/** Parses the `chat_template` field: a string, or a list of {name, template} (several named templates). */
export function parseChatTemplateField(value: unknown, where: string): ChatTemplateSources {
  if (typeof value === "string") return { default: value };
  if (Array.isArray(value)) {
    const sources: ChatTemplateSources = {};
    value.forEach((entry, index) => {
      const item = entry as { name?: unknown; template?: unknown } | null;
      if (typeof item?.name !== "string" || typeof item.template !== "string") {
        throw new ChatTemplateError(
          "CHAT_TEMPLATE_BAD",
          `${where}: chat_template[${index}] should be {"name": string, "template": string}`,
        );
      }
      sources[item.name] = item.template;
    });
    return sources;
  }
  throw new ChatTemplateError(
    "CHAT_TEMPLATE_BAD",
    `${where}: chat_template should be a string or a list of {"name", "template"}, got ${typeof value}`,
  );
}

/**
 * The chat templates of a model folder, or undefined when it has none. Looked for where transformers saves
 * them: chat_template.jinja (newer versions), tokenizer_config.json's chat_template, chat_template.json.
 */
export function readChatTemplates(dir: string): ChatTemplateSources | undefined {
  const jinja = join(dir, "chat_template.jinja");
  if (existsSync(jinja)) return { default: readFileSync(jinja, "utf8") };
  for (const name of ["tokenizer_config.json", "chat_template.json"]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const json = readJsonFile(path) as Record<string, unknown> | null;
    if (json && typeof json === "object" && json.chat_template !== undefined && json.chat_template !== null)
      return parseChatTemplateField(json.chat_template, path);
  }
  return undefined;
}

/**
 * Reads a template given by the user: a .jinja/.j2 (or any text) file holds the template itself; a .json
 * file is a tokenizer_config.json / chat_template.json with a chat_template field.
 */
export function readChatTemplateFile(path: string): ChatTemplateSources {
  if (!existsSync(path))
    throw new ChatTemplateError("CHAT_TEMPLATE_MISSING", `chat template file ${path} does not exist`);
  if (path.endsWith(".json")) {
    const json = readJsonFile(path) as Record<string, unknown> | null;
    if (!json || typeof json !== "object" || json.chat_template === undefined) {
      throw new ChatTemplateError(
        "CHAT_TEMPLATE_BAD",
        `${path} has no "chat_template" field: give a tokenizer_config.json with one, or a .jinja file holding the template`,
      );
    }
    return parseChatTemplateField(json.chat_template, path);
  }
  return { default: readFileSync(path, "utf8") };
}

/**
 * Picks one template: the named one when `name` is given, else "default" (transformers' rule for a list of
 * named templates).
 */
export function selectChatTemplate(sources: ChatTemplateSources, name?: string, where = "the model"): string {
  const names = Object.keys(sources);
  const chosen = name ?? "default";
  const source = sources[chosen];
  if (source !== undefined) return source;
  throw new ChatTemplateError(
    "CHAT_TEMPLATE_NAME",
    name === undefined
      ? `${where} has several chat templates (${names.join(", ")}) and none named "default": choose one by name`
      : `${where} has no chat template named "${name}" (it has: ${names.join(", ")})`,
  );
}

/** The special tokens as template variables: bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token. */
export function specialTokenVariables(tokenizer: Pick<Tokenizer, "specialTokens">): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [kind, token] of Object.entries(tokenizer.specialTokens)) {
    if (token) variables[`${kind}_token`] = token.token;
  }
  return variables;
}

export class ChatTemplate {
  private readonly template: Template;

  /** `specialTokens`: template variables such as {bos_token: "<s>", eos_token: "</s>"} (see specialTokenVariables). */
  constructor(
    readonly source: string,
    readonly specialTokens: Record<string, string> = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new ChatTemplateError(
        "CHAT_TEMPLATE_BAD",
        `the chat template does not parse as Jinja: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The conversation as the model was trained to see it (a string, not yet encoded). */
  render(messages: readonly ChatTemplateMessage[], options: RenderChatOptions = {}): string {
    try {
      return this.template.render({
        ...this.specialTokens,
        ...options.variables,
        messages: messages.map((message) => ({ role: message.role, content: message.content })),
        add_generation_prompt: options.addGenerationPrompt ?? true,
      });
    } catch (error) {
      throw new ChatTemplateError(
        "CHAT_TEMPLATE_RENDER",
        `the chat template failed on these messages: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

/** The model has no chat template: say so and what to do. */
export function missingChatTemplateError(model: string): ChatTemplateError {
  return new ChatTemplateError(
    "CHAT_TEMPLATE_MISSING",
    `${model} has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja): ` +
      'send a plain-text prompt, give a template (a .jinja file or a tokenizer_config.json), or opt into the plain "role: content" transcript',
  );
}

/** The opt-in fallback for models without a chat template: "<role>: <content>\n" per message, then "assistant:". */
export const PLAIN_TRANSCRIPT = {
  /** Generation stops here: the model starting the next user turn. */
  stop: ["\nuser:"] as readonly string[],
  render(messages: readonly ChatTemplateMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    const lines = messages.map((message) => `${message.role}: ${message.content}\n`).join("");
    return (options.addGenerationPrompt ?? true) ? `${lines}assistant:` : lines;
  },
  /** The transcript leaves a space after "assistant:" to the model; it is not part of the answer. */
  cleanReply(text: string): string {
    return text.replace(/^ /, "");
  },
};

/** How a model turns chat messages into prompt text. */
export interface ChatFormat {
  /** "template" (the model's own or a given one) or "plain" (the fallback transcript). */
  kind: "template" | "plain";
  render(messages: readonly ChatTemplateMessage[], options?: RenderChatOptions): string;
  /** Stop strings to add to the request's own. */
  stop: readonly string[];
  /** Whether the tokenizer adds its own special tokens when encoding the rendered text (not for templates). */
  addSpecialTokens: boolean;
  /**
   * Tokens that end the reply besides the model's EOS: the tokenizer's eos_token, which chat templates write
   * at the end of every turn (</s>, <|im_end|>, <|eot_id|>) while config.json may name another EOS.
   */
  endOfTurnTokenIds: readonly number[];
  /** The reply as a chat message's content. */
  cleanReply(text: string): string;
}

export interface ChatFormatOptions {
  /** Template sources to use instead of the model's (e.g. from readChatTemplateFile). */
  templates?: ChatTemplateSources;
  /** Which named template (default "default"). */
  name?: string;
  /** Use the plain transcript when there is no template (otherwise CHAT_TEMPLATE_MISSING). Default false. */
  plainFallback?: boolean;
}

/**
 * The chat format of a model: the given templates, else the model folder's (`dir`, undefined for a llama2.c
 * checkpoint), else the plain transcript when the caller opted in, else CHAT_TEMPLATE_MISSING.
 */
export function chatFormatFor(
  dir: string | undefined,
  tokenizer: Pick<Tokenizer, "specialTokens">,
  options: ChatFormatOptions = {},
  model = dir ?? "the model",
): ChatFormat {
  const sources = options.templates ?? (dir !== undefined ? readChatTemplates(dir) : undefined);
  if (sources) {
    const template = new ChatTemplate(
      selectChatTemplate(sources, options.name, model),
      specialTokenVariables(tokenizer),
    );
    return {
      kind: "template",
      render: (messages, renderOptions) => template.render(messages, renderOptions),
      stop: [],
      addSpecialTokens: false,
      endOfTurnTokenIds: tokenizer.specialTokens.eos ? [tokenizer.specialTokens.eos.id] : [],
      cleanReply: (text) => text,
    };
  }
  if (options.plainFallback) {
    return {
      kind: "plain",
      render: (messages, renderOptions) => PLAIN_TRANSCRIPT.render(messages, renderOptions),
      stop: PLAIN_TRANSCRIPT.stop,
      addSpecialTokens: true,
      endOfTurnTokenIds: [],
      cleanReply: PLAIN_TRANSCRIPT.cleanReply,
    };
  }
  throw missingChatTemplateError(model);
}
