// Few-shot chain of thought (Wei et al., 2022): worked exemplars "Q: ...\nA: <reasoning> The answer is <x>."
// followed by the question; the model writes its reasoning and answer, and the answer is read after the last
// "The answer is" (else the last candidate in the text).

import type { CallOptions, GenerateRequest, LanguageModel } from "../lm/language-model.js";
import { ANSWER_PHRASE, type AnswerType, extractAfterAnswerPhrase } from "./answer-extraction.js";

export interface CotExemplar {
  question: string;
  /** The worked reasoning, without the final answer sentence. */
  rationale: string;
  answer: string;
}

export interface CotFormat {
  /** Default "Q: ". */
  questionPrefix?: string;
  /** Default "A:". */
  answerPrefix?: string;
  /** Default "The answer is". */
  answerPhrase?: string;
  /** Between exemplars. Default "\n\n". */
  separator?: string;
}

/** "Q: q\nA: rationale The answer is a." per exemplar, then "Q: question\nA:". */
export function buildCotPrompt(
  exemplars: readonly CotExemplar[],
  question: string,
  format: CotFormat = {},
): string {
  const q = format.questionPrefix ?? "Q: ";
  const a = format.answerPrefix ?? "A:";
  const phrase = format.answerPhrase ?? ANSWER_PHRASE;
  const blocks = exemplars.map(
    (exemplar) => `${q}${exemplar.question}\n${a} ${exemplar.rationale} ${phrase} ${exemplar.answer}.`,
  );
  blocks.push(`${q}${question}\n${a}`);
  return blocks.join(format.separator ?? "\n\n");
}

export interface CotOptions extends CotFormat, CallOptions {
  answerType: AnswerType;
  choiceLetters?: readonly string[];
  /** Default 256. */
  maxTokens?: number;
  /** Default 0 (greedy); self-consistency samples with temperature > 0 through `selfConsistency`. */
  temperature?: number;
  seed?: number;
  /** Default ["\n\nQ:", "\nQ:"]: the model starts a new question. */
  stop?: string[];
}

export interface CotResult {
  prompt: string;
  reasoning: string;
  answer: string | undefined;
}

/** The request few-shot CoT sends (also what self-consistency samples). */
export function cotRequest(
  exemplars: readonly CotExemplar[],
  question: string,
  options: CotOptions,
): GenerateRequest {
  const request: GenerateRequest = {
    prompt: buildCotPrompt(exemplars, question, options),
    maxTokens: options.maxTokens ?? 256,
    temperature: options.temperature ?? 0,
    stop: options.stop ?? ["\n\nQ:", "\nQ:"],
  };
  if (options.seed !== undefined) request.seed = options.seed;
  return request;
}

/** Extracts a CoT answer the way `chainOfThought` does. */
export function extractCotAnswer(
  reasoning: string,
  options: { answerType: AnswerType; choiceLetters?: readonly string[]; answerPhrase?: string },
): string | undefined {
  return extractAfterAnswerPhrase(
    reasoning,
    { type: options.answerType, ...(options.choiceLetters ? { choiceLetters: options.choiceLetters } : {}) },
    options.answerPhrase ?? ANSWER_PHRASE,
  );
}

export async function chainOfThought(
  lm: LanguageModel,
  exemplars: readonly CotExemplar[],
  question: string,
  options: CotOptions,
): Promise<CotResult> {
  const request = cotRequest(exemplars, question, options);
  const response = await lm.generate(request, options.signal ? { signal: options.signal } : {});
  const reasoning = response.choices[0].text;
  return { prompt: request.prompt as string, reasoning, answer: extractCotAnswer(reasoning, options) };
}
