// Zero-shot chain of thought (Kojima et al., 2022), two stages: (1) reasoning extraction, "Q: <question>\nA:
// Let's think step by step." and the model reasons; (2) answer extraction, the stage-1 prompt + the reasoning +
// an answer trigger for the answer type ("Therefore, the answer (arabic numerals) is"), and the model states
// the answer, which is cleaned taking the first candidate. Also the plain zero-shot baseline of the same paper
// ("Q: <question>\nA: The answer (arabic numerals) is").

import type { CallOptions, LanguageModel } from "../lm/language-model.js";
import { type AnswerType, extractAnswer } from "./answer-extraction.js";
import {
  type SelfConsistencyOptions,
  type SelfConsistencyResult,
  selfConsistency,
} from "./self-consistency.js";

export const REASONING_TRIGGER = "Let's think step by step.";

/** Kojima et al.'s answer-extraction trigger for each answer type (choices: "among A through <last>"). */
export function answerTrigger(
  type: AnswerType,
  choiceLetters: readonly string[] = ["A", "B", "C", "D", "E"],
): string {
  switch (type) {
    case "number":
      return "Therefore, the answer (arabic numerals) is";
    case "choice":
      return `Therefore, among ${choiceLetters[0]} through ${choiceLetters[choiceLetters.length - 1]}, the answer is`;
    case "yes-no":
      return "Therefore, the answer (Yes or No) is";
    case "text":
      return "Therefore, the answer is";
  }
}

/** The direct (no reasoning) trigger of the zero-shot baseline. */
export function directAnswerTrigger(
  type: AnswerType,
  choiceLetters: readonly string[] = ["A", "B", "C", "D", "E"],
): string {
  switch (type) {
    case "number":
      return "The answer (arabic numerals) is";
    case "choice":
      return `Among ${choiceLetters[0]} through ${choiceLetters[choiceLetters.length - 1]}, the answer is`;
    case "yes-no":
      return "The answer (Yes or No) is";
    case "text":
      return "The answer is";
  }
}

export interface ZeroShotCotOptions extends CallOptions {
  answerType: AnswerType;
  choiceLetters?: readonly string[];
  /** Default "Let's think step by step.". */
  reasoningTrigger?: string;
  /** Overrides the answer trigger of the answer type. */
  answerTrigger?: string;
  /** Stage 1 budget. Default 256. */
  maxReasoningTokens?: number;
  /** Stage 2 budget. Default 32. */
  maxAnswerTokens?: number;
  /** Stage 1 sampling (stage 2 is always greedy). Default 0. */
  temperature?: number;
  seed?: number;
}

export interface ZeroShotCotResult {
  reasoningPrompt: string;
  reasoning: string;
  answerPrompt: string;
  answerText: string;
  answer: string | undefined;
}

export function reasoningPrompt(question: string, trigger = REASONING_TRIGGER): string {
  return `Q: ${question}\nA: ${trigger}`;
}

/** Stage 2 prompt, as in Kojima et al.: stage-1 prompt + reasoning + " " + answer trigger. */
export function answerExtractionPrompt(stage1Prompt: string, reasoning: string, trigger: string): string {
  return `${stage1Prompt}${reasoning} ${trigger}`;
}

export async function zeroShotCot(
  lm: LanguageModel,
  question: string,
  options: ZeroShotCotOptions,
): Promise<ZeroShotCotResult> {
  const callOptions: CallOptions = options.signal ? { signal: options.signal } : {};
  const stage1 = reasoningPrompt(question, options.reasoningTrigger);
  const reasoningResponse = await lm.generate(
    {
      prompt: stage1,
      maxTokens: options.maxReasoningTokens ?? 256,
      temperature: options.temperature ?? 0,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      stop: ["\nQ:"],
    },
    callOptions,
  );
  const reasoning = reasoningResponse.choices[0].text;
  const trigger = options.answerTrigger ?? answerTrigger(options.answerType, options.choiceLetters);
  const stage2 = answerExtractionPrompt(stage1, reasoning, trigger);
  const answerResponse = await lm.generate(
    { prompt: stage2, maxTokens: options.maxAnswerTokens ?? 32, temperature: 0, stop: ["\n"] },
    callOptions,
  );
  const answerText = answerResponse.choices[0].text;
  return {
    reasoningPrompt: stage1,
    reasoning,
    answerPrompt: stage2,
    answerText,
    answer: cleanTriggeredAnswer(answerText, options),
  };
}

function cleanTriggeredAnswer(
  text: string,
  options: { answerType: AnswerType; choiceLetters?: readonly string[] },
): string | undefined {
  return extractAnswer(text, {
    type: options.answerType,
    position: "first",
    ...(options.choiceLetters ? { choiceLetters: options.choiceLetters } : {}),
  });
}

/** The zero-shot baseline: one greedy request ending in the direct trigger. */
export async function zeroShotDirect(
  lm: LanguageModel,
  question: string,
  options: Omit<ZeroShotCotOptions, "reasoningTrigger" | "maxReasoningTokens" | "temperature" | "seed">,
): Promise<{ prompt: string; answerText: string; answer: string | undefined }> {
  const prompt = `Q: ${question}\nA: ${options.answerTrigger ?? directAnswerTrigger(options.answerType, options.choiceLetters)}`;
  const response = await lm.generate(
    { prompt, maxTokens: options.maxAnswerTokens ?? 32, temperature: 0, stop: ["\n"] },
    options.signal ? { signal: options.signal } : {},
  );
  const answerText = response.choices[0].text;
  return { prompt, answerText, answer: cleanTriggeredAnswer(answerText, options) };
}

/**
 * Zero-shot CoT with self-consistency: N reasoning paths sampled from the stage-1 prompt, each path's answer
 * taken by the greedy stage-2 extraction, then the votes of `selfConsistency`. Requests: 1 (or N without `n`)
 * plus N stage-2 requests.
 */
export async function zeroShotCotSelfConsistency(
  lm: LanguageModel,
  question: string,
  options: Omit<ZeroShotCotOptions, "temperature" | "seed"> & SelfConsistencyOptions,
): Promise<SelfConsistencyResult & { reasoningPrompt: string; answerPrompts: string[] }> {
  const callOptions: CallOptions = options.signal ? { signal: options.signal } : {};
  const stage1 = reasoningPrompt(question, options.reasoningTrigger);
  const trigger = options.answerTrigger ?? answerTrigger(options.answerType, options.choiceLetters);
  const answerPrompts: string[] = [];
  const result = await selfConsistency(
    lm,
    { prompt: stage1, maxTokens: options.maxReasoningTokens ?? 256, stop: ["\nQ:"] },
    async (reasoning) => {
      const stage2 = answerExtractionPrompt(stage1, reasoning, trigger);
      answerPrompts.push(stage2);
      const response = await lm.generate(
        { prompt: stage2, maxTokens: options.maxAnswerTokens ?? 32, temperature: 0, stop: ["\n"] },
        callOptions,
      );
      return cleanTriggeredAnswer(response.choices[0].text, options);
    },
    options,
  );
  return { ...result, reasoningPrompt: stage1, answerPrompts };
}
