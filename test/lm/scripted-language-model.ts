// A scripted LanguageModel for tests: it records every call and answers from functions the test gives it, so
// tests can assert the exact prompts a strategy builds and feed it known answers, logprobs and scores.

import type {
  Choice,
  GenerateRequest,
  GenerateResponse,
  LanguageModel,
  LanguageModelCapabilities,
  ScoreResult,
} from "../../src/lm/language-model.js";
import { LmCapabilityError } from "../../src/lm/language-model.js";

export type ScriptedCall =
  | { kind: "generate"; request: GenerateRequest }
  | { kind: "score"; prompt: string; continuation: string };

/** Answer for one sample of a request: text, or a full choice (to give logprobs or a finish reason). */
export type GenerateScript = (
  request: GenerateRequest,
  sampleIndex: number,
  callIndex: number,
) => string | Choice;
export type ScoreScript = (prompt: string, continuation: string) => number | Omit<ScoreResult, "usage">;

export interface ScriptedOptions {
  model?: string;
  capabilities?: Partial<LanguageModelCapabilities>;
  generate?: GenerateScript;
  score?: ScoreScript;
}

export const FULL_CAPABILITIES: LanguageModelCapabilities = {
  n: true,
  seed: true,
  logprobs: true,
  topLogprobs: 5,
  score: true,
  chat: true,
  completions: true,
};

function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word !== "").length;
}

export class ScriptedLanguageModel implements LanguageModel {
  readonly model: string;
  readonly capabilities: LanguageModelCapabilities;
  readonly calls: ScriptedCall[] = [];
  private readonly options: ScriptedOptions;

  constructor(options: ScriptedOptions = {}) {
    this.options = options;
    this.model = options.model ?? "scripted";
    this.capabilities = { ...FULL_CAPABILITIES, ...options.capabilities };
  }

  /** The prompts of all generate calls, in order (chat prompts as their last message). */
  get prompts(): string[] {
    return this.calls.flatMap((call) =>
      call.kind === "generate"
        ? [
            typeof call.request.prompt === "string"
              ? call.request.prompt
              : call.request.prompt.at(-1)!.content,
          ]
        : [],
    );
  }

  get generateRequests(): GenerateRequest[] {
    return this.calls.flatMap((call) => (call.kind === "generate" ? [call.request] : []));
  }

  async generate(request: GenerateRequest): Promise<GenerateResponse> {
    const callIndex = this.calls.length;
    this.calls.push({ kind: "generate", request: structuredClone(request) });
    const script = this.options.generate;
    if (!script) throw new Error("ScriptedLanguageModel: no generate script");
    const n = request.n ?? 1;
    if (n > 1 && !this.capabilities.n) throw new LmCapabilityError("scripted model declared without n");
    const choices: Choice[] = [];
    for (let i = 0; i < n; i++) {
      const answer = script(request, i, callIndex);
      choices.push(typeof answer === "string" ? { text: answer, finishReason: "stop" } : answer);
    }
    const promptTokens = countWords(
      typeof request.prompt === "string" ? request.prompt : request.prompt.map((m) => m.content).join(" "),
    );
    const completionTokens = choices.reduce((sum, choice) => sum + countWords(choice.text), 0);
    return { choices, usage: { promptTokens, completionTokens } };
  }

  async score(prompt: string, continuation: string): Promise<ScoreResult> {
    this.calls.push({ kind: "score", prompt, continuation });
    if (!this.capabilities.score) throw new LmCapabilityError("scripted model declared without score");
    const script = this.options.score;
    if (!script) throw new Error("ScriptedLanguageModel: no score script");
    const answer = script(prompt, continuation);
    const usage = { promptTokens: countWords(prompt + continuation), completionTokens: 0 };
    if (typeof answer === "number") {
      return { logprob: answer, tokens: [continuation], tokenLogprobs: [answer], isGreedy: false, usage };
    }
    return { ...answer, usage };
  }
}
