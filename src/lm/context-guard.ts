// A wrapper that turns a generation cut short by the model's context into an error. The local engine gives a
// request whose prompt fits but whose prompt + maxTokens does not only the room left (src/models/
// text-generation.ts caps maxNewTokens at context - prompt) and reports the cut choice with finishReason
// "length", as if it had reached maxTokens: a chain of thought cut mid-sentence would then be scored as a
// wrong answer. A choice that ended by "length" with fewer tokens than asked can only have been cut by such a
// cap, so the wrapper throws ContextCutError (code CONTEXT_TOO_LONG, the code the engine uses for a prompt
// that does not fit at all) and the caller reports the example as too long instead of scoring it.
//
// Only single-choice requests can be checked: usage counts the tokens of all choices together. A server that
// rejects such requests (vLLM) or reports no usage passes through unchanged.

import { AdaptlmError } from "../errors.js";
import {
  type CallOptions,
  type GenerateRequest,
  type GenerateResponse,
  type LanguageModel,
  normaliseRequest,
  type ScoreResult,
} from "./language-model.js";

export class ContextCutError extends AdaptlmError {
  constructor(
    readonly promptTokens: number,
    readonly maxTokens: number,
    readonly generatedTokens: number,
  ) {
    super(
      "CONTEXT_TOO_LONG",
      `prompt ${promptTokens} tokens + up to ${maxTokens} new tokens > context ${promptTokens + generatedTokens}: ` +
        `the engine stopped the generation after ${generatedTokens} tokens; shorten the prompt (fewer or ` +
        "shorter demonstrations) or use a model with a longer context",
    );
  }
}

/** Throws ContextCutError for a response the backend cut short because the context was full. */
export function checkNotContextCut(request: GenerateRequest, response: GenerateResponse): void {
  const normalised = normaliseRequest(request);
  if (normalised.n !== 1 || response.choices.length !== 1) return;
  const [choice] = response.choices;
  const generated = response.usage.completionTokens;
  // 0 completion tokens is a backend that reports no usage (the engine always leaves room for one token)
  if (choice.finishReason === "length" && generated > 0 && generated < normalised.maxTokens)
    throw new ContextCutError(response.usage.promptTokens, normalised.maxTokens, generated);
}

/** `lm` with every single-choice generation checked by checkNotContextCut. */
export function guardContext(lm: LanguageModel): LanguageModel {
  return {
    model: lm.model,
    capabilities: lm.capabilities,
    async generate(request: GenerateRequest, options?: CallOptions): Promise<GenerateResponse> {
      const response = await lm.generate(request, options);
      checkNotContextCut(request, response);
      return response;
    },
    score(prompt: string, continuation: string, options?: CallOptions): Promise<ScoreResult> {
      return lm.score(prompt, continuation, options);
    },
  };
}
