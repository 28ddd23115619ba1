// Least-to-most prompting (Zhou et al., 2023). Stage 1, decomposition: exemplars show a question broken into
// simpler sub-questions; the model lists the sub-questions of the new question. Stage 2, sub-question solving:
// after solved exemplars, the problem is followed by the sub-questions one at a time, each answer appended to
// the context before the next is asked, and last the original question, whose answer is extracted.
//
// Prompt formats (the paper's are task-specific; these are the general form we use):
//   stage 1:  Q: <question>\nSub-questions:\n1. <sq1>\n2. <sq2>          (exemplars, then the question)
//   stage 2:  <problem>\n\nQ: <sq1>\nA: <a1>\n\nQ: <sq2>\nA: ...          (exemplars separated by "\n\n\n")

import type { CallOptions, LanguageModel } from "../lm/language-model.js";
import type { AnswerType } from "./answer-extraction.js";
import { extractCotAnswer } from "./chain-of-thought.js";

export interface DecompositionExemplar {
  question: string;
  subquestions: string[];
}

export interface SolutionExemplar {
  /** The problem statement. */
  problem: string;
  /** Sub-questions with worked answers, the original question last. */
  steps: Array<{ question: string; answer: string }>;
}

export interface LeastToMostOptions extends CallOptions {
  decompositionExemplars: readonly DecompositionExemplar[];
  solutionExemplars: readonly SolutionExemplar[];
  answerType: AnswerType;
  choiceLetters?: readonly string[];
  /** At most this many sub-questions are answered (the rest are dropped). Default 8. */
  maxSubquestions?: number;
  /** Per generation. Default 128. */
  maxTokens?: number;
}

export interface LeastToMostResult {
  decompositionPrompt: string;
  subquestions: string[];
  steps: Array<{ question: string; answer: string }>;
  /** Every stage-2 prompt, in order (the last asks the original question). */
  solvingPrompts: string[];
  finalText: string;
  answer: string | undefined;
}

export function buildDecompositionPrompt(
  exemplars: readonly DecompositionExemplar[],
  question: string,
): string {
  const blocks = exemplars.map(
    (exemplar) =>
      `Q: ${exemplar.question}\nSub-questions:\n${exemplar.subquestions.map((sub, i) => `${i + 1}. ${sub}`).join("\n")}`,
  );
  blocks.push(`Q: ${question}\nSub-questions:\n`);
  return blocks.join("\n\n");
}

/** The numbered lines of a stage-1 completion, up to the first blank line. */
export function parseSubquestions(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      if (out.length > 0) break;
      continue;
    }
    const match = /^\s*(?:\d+[.)]|[-*])\s*(.+?)\s*$/.exec(line);
    if (!match) {
      if (out.length > 0) break;
      continue;
    }
    out.push(match[1]);
  }
  return out;
}

export function buildSolvingPrefix(exemplars: readonly SolutionExemplar[]): string {
  return exemplars
    .map((exemplar) =>
      [exemplar.problem, ...exemplar.steps.map((step) => `Q: ${step.question}\nA: ${step.answer}`)].join(
        "\n\n",
      ),
    )
    .map((block) => `${block}\n\n\n`)
    .join("");
}

function sameQuestion(a: string, b: string): boolean {
  const normalise = (text: string): string =>
    text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, " ")
      .trim();
  return normalise(a) === normalise(b);
}

/**
 * Runs both stages for `question` about `problem` (the problem statement; pass the same text twice for a
 * self-contained question).
 */
export async function leastToMost(
  lm: LanguageModel,
  problem: string,
  question: string,
  options: LeastToMostOptions,
): Promise<LeastToMostResult> {
  const callOptions: CallOptions = options.signal ? { signal: options.signal } : {};
  const maxTokens = options.maxTokens ?? 128;
  const decompositionPrompt = buildDecompositionPrompt(options.decompositionExemplars, question);
  const decomposition = await lm.generate(
    { prompt: decompositionPrompt, maxTokens, temperature: 0, stop: ["\n\n", "\nQ:"] },
    callOptions,
  );
  const subquestions = parseSubquestions(decomposition.choices[0].text)
    .filter((sub) => !sameQuestion(sub, question))
    .slice(0, options.maxSubquestions ?? 8);

  let context = `${buildSolvingPrefix(options.solutionExemplars)}${problem}`;
  const steps: Array<{ question: string; answer: string }> = [];
  const solvingPrompts: string[] = [];
  const ask = async (sub: string): Promise<string> => {
    const prompt = `${context}\n\nQ: ${sub}\nA:`;
    solvingPrompts.push(prompt);
    const response = await lm.generate(
      { prompt, maxTokens, temperature: 0, stop: ["\n\n", "\nQ:"] },
      callOptions,
    );
    const answer = response.choices[0].text.trim();
    context = `${prompt} ${answer}`;
    return answer;
  };
  for (const sub of subquestions) steps.push({ question: sub, answer: await ask(sub) });
  const finalText = await ask(question);
  return {
    decompositionPrompt,
    subquestions,
    steps,
    solvingPrompts,
    finalText,
    answer: extractCotAnswer(finalText, {
      answerType: options.answerType,
      ...(options.choiceLetters ? { choiceLetters: options.choiceLetters } : {}),
    }),
  };
}
