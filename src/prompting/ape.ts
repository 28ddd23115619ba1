// Automatic prompt engineering (APE, Zhou et al., 2023): induce candidate instructions from input-output
// demonstrations with a meta-prompt ("I gave a friend an instruction ... The instruction was"), score each
// candidate on held-out pairs (execution accuracy, or the mean log-likelihood of the gold outputs), keep the best,
// and optionally resample variants of the best ("Generate a variation of the following instruction ...") for a
// few rounds. The number of requests is bounded: subsets x candidatesPerSubset inductions, one request per
// candidate and dev pair to score, plus the same per resampling round.

import { AdaptlmError } from "../errors.js";
import { type CallOptions, generateSamples, type LanguageModel } from "../lm/language-model.js";
import { createRng, shuffled } from "./random.js";
import { renderTemplate } from "./template.js";

export class ApeError extends AdaptlmError {
  constructor(message: string) {
    super("PROMPT_APE", message);
  }
}

export interface IoPair {
  input: string;
  output: string;
}

export const APE_INDUCTION_TEMPLATE =
  "I gave a friend an instruction and {{count}} inputs. The friend read the instruction and wrote an output for every one of the inputs. Here are the input-output pairs:\n\n{{pairs}}\n\nThe instruction was";

export const APE_RESAMPLE_TEMPLATE =
  "Generate a variation of the following instruction while keeping the semantic meaning.\n\nInput: {{instruction}}\n\nOutput:";

export const APE_EVALUATION_TEMPLATE = "Instruction: {{instruction}}\n\nInput: {{input}}\nOutput:";

export interface ApeOptions extends CallOptions {
  /** Pairs shown to induce instructions. */
  demonstrations: readonly IoPair[];
  /** Held-out pairs the candidates are scored on. */
  dev: readonly IoPair[];
  /** Demonstration subsets to induce from. Default 2. */
  subsets?: number;
  /** Pairs per subset. Default 5. */
  pairsPerSubset?: number;
  /** Instructions sampled per subset. Default 4. */
  candidatesPerSubset?: number;
  /** Induction temperature. Default 0.9. */
  temperature?: number;
  /** "execution": fraction of dev outputs reproduced exactly (trimmed, case-insensitive); "likelihood": mean log P(output | prompt). Default "execution" */
  scoring?: "execution" | "likelihood";
  /** Resampling rounds around the best. Default 0. */
  resampleRounds?: number;
  /** Variants per round. Default 4. */
  variantsPerRound?: number;
  /** With {{instruction}} and {{input}}. */
  evaluationTemplate?: string;
  inductionTemplate?: string;
  seed?: number;
  /** Tokens for each induced instruction. Default 64; for each dev output: 32. */
  maxInstructionTokens?: number;
  maxOutputTokens?: number;
  /** Called after each candidate is scored. */
  onCandidate?: (candidate: ScoredInstruction) => void;
}

export interface ScoredInstruction {
  instruction: string;
  score: number;
  /** 0 for induced candidates, r for those of resampling round r. */
  round: number;
}

export interface ApeResult {
  best: ScoredInstruction;
  /** All distinct candidates, best first. */
  candidates: ScoredInstruction[];
}

export function formatPairs(pairs: readonly IoPair[]): string {
  return pairs.map((pair) => `Input: ${pair.input}\nOutput: ${pair.output}`).join("\n\n");
}

/** Trims an induced instruction: first line, no surrounding quotes or a leading colon. */
export function cleanInstruction(text: string): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line.replace(/^[:\s"'“]+|["'”\s]+$/gu, "").trim();
}

export async function searchInstructions(lm: LanguageModel, options: ApeOptions): Promise<ApeResult> {
  if (options.demonstrations.length === 0)
    throw new ApeError("APE needs demonstrations to induce instructions from");
  if (options.dev.length === 0) throw new ApeError("APE needs dev pairs to score the candidates on");
  const callOptions: CallOptions = options.signal ? { signal: options.signal } : {};
  const seed = options.seed ?? 0;
  const rng = createRng(seed);
  const subsets = options.subsets ?? 2;
  const pairsPerSubset = Math.min(options.pairsPerSubset ?? 5, options.demonstrations.length);
  const induction = options.inductionTemplate ?? APE_INDUCTION_TEMPLATE;

  const seen = new Set<string>();
  const scored: ScoredInstruction[] = [];
  const scoreAll = async (instructions: string[], round: number): Promise<void> => {
    for (const instruction of instructions) {
      if (instruction === "" || seen.has(instruction)) continue;
      seen.add(instruction);
      const candidate = {
        instruction,
        score: await scoreInstruction(lm, instruction, options, callOptions),
        round,
      };
      scored.push(candidate);
      options.onCandidate?.(candidate);
    }
  };

  const induced: string[] = [];
  for (let s = 0; s < subsets; s++) {
    const pairs = shuffled(options.demonstrations, rng).slice(0, pairsPerSubset);
    const prompt = renderTemplate(induction, { count: String(pairs.length), pairs: formatPairs(pairs) });
    const response = await generateSamples(
      lm,
      {
        prompt,
        n: options.candidatesPerSubset ?? 4,
        temperature: options.temperature ?? 0.9,
        maxTokens: options.maxInstructionTokens ?? 64,
        stop: ["\n"],
        seed: seed + s * 1000,
      },
      callOptions,
    );
    induced.push(...response.choices.map((choice) => cleanInstruction(choice.text)));
  }
  await scoreAll(induced, 0);
  if (scored.length === 0) throw new ApeError("the model induced no usable instruction (all empty)");

  for (let round = 1; round <= (options.resampleRounds ?? 0); round++) {
    const best = bestOf(scored);
    const response = await generateSamples(
      lm,
      {
        prompt: renderTemplate(APE_RESAMPLE_TEMPLATE, { instruction: best.instruction }),
        n: options.variantsPerRound ?? 4,
        temperature: options.temperature ?? 0.9,
        maxTokens: options.maxInstructionTokens ?? 64,
        stop: ["\n"],
        seed: seed + round * 7919,
      },
      callOptions,
    );
    await scoreAll(
      response.choices.map((choice) => cleanInstruction(choice.text)),
      round,
    );
  }
  const candidates = [...scored].sort((a, b) => b.score - a.score || a.round - b.round);
  return { best: candidates[0], candidates };
}

function bestOf(candidates: readonly ScoredInstruction[]): ScoredInstruction {
  return candidates.reduce((best, candidate) => (candidate.score > best.score ? candidate : best));
}

/** Execution accuracy or mean log-likelihood of the dev outputs under the instruction. */
export async function scoreInstruction(
  lm: LanguageModel,
  instruction: string,
  options: Pick<ApeOptions, "dev" | "scoring" | "evaluationTemplate" | "maxOutputTokens">,
  callOptions: CallOptions = {},
): Promise<number> {
  const template = options.evaluationTemplate ?? APE_EVALUATION_TEMPLATE;
  let total = 0;
  for (const pair of options.dev) {
    const prompt = renderTemplate(template, { instruction, input: pair.input });
    if ((options.scoring ?? "execution") === "likelihood") {
      total += (await lm.score(prompt, ` ${pair.output}`, callOptions)).logprob;
    } else {
      const response = await lm.generate(
        { prompt, maxTokens: options.maxOutputTokens ?? 32, temperature: 0, stop: ["\n"] },
        callOptions,
      );
      if (response.choices[0].text.trim().toLowerCase() === pair.output.trim().toLowerCase()) total += 1;
    }
  }
  return total / options.dev.length;
}
