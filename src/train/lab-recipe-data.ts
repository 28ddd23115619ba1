// The data and tokenizer of the lab recipes.
//
//   encoder (lab-encoder):  the English corpus (Moby-Dick + State of the Union addresses) only, WordPiece;
//   decoders (lab-decoder-*): the English corpus plus as many characters of synthetic task texts
//                             (classification with arbitrary labels, arithmetic, last letters), so the two
//                             halves weigh about the same in tokens; byte-level BPE with <|endoftext|>.
//
// The corpus is split by whole documents with a seed (2% validation). The tokenizer is trained on a seeded
// sample of the training texts only. Validation texts are cut into paragraphs, shuffled with the seed and, for
// the decoders, interleaved with held-out synthetic texts (drawn from a separate seed) so that the first
// validation blocks, the ones pretrain() evaluates on, cover both halves.

import { loadEnglishCorpus, splitDocuments } from "../tasks/english-corpus.js";
import { syntheticPretrainingTexts } from "../tasks/synthetic/mixture.js";
import { Rng } from "../tensor/random.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { tokenizerConfigFor, tokenizerJsonText } from "../tokenizers/tokenizer-files.js";
import { tokenizerFromJson } from "../tokenizers/tokenizer-json.js";
import { trainByteLevelBpe } from "../tokenizers/train-byte-level-bpe.js";
import { trainWordPiece } from "../tokenizers/train-wordpiece.js";
import type { PretrainRecipe } from "./recipes.js";

export interface LabRecipeData {
  trainTexts: string[];
  validationTexts: string[];
  tokenizer: Tokenizer;
  /** Files to write next to the model (tokenizer.json, tokenizer_config.json). */
  tokenizerFiles: Record<string, string | object>;
  /** One paragraph for the model card: sources, sizes, split. */
  description: string;
}

export interface LabRecipeDataOptions {
  seed: number;
  onProgress?: (message: string) => void;
}

const VALIDATION_FRACTION = 0.02;
/** Characters of text the tokenizer is trained on (about 1-3 s per million on 2 cores). */
const TOKENIZER_SAMPLE_CHARS = 3_000_000;
/** Characters of validation text kept (pretrain() evaluates only its first blocks). */
const VALIDATION_CHARS = 300_000;
const SYNTHETIC_VALIDATION_SEED_OFFSET = 7919;

/** Texts, tokenizer and tokenizer files of a lab recipe. */
export function labRecipeData(recipe: PretrainRecipe, options: LabRecipeDataOptions): LabRecipeData {
  const { seed } = options;
  const say = (message: string) => options.onProgress?.(message);
  const rng = new Rng(seed);
  say("reading the English corpus");
  const corpus = loadEnglishCorpus();
  const split = splitDocuments(corpus, VALIDATION_FRACTION, seed);
  const englishTrain = split.train.map((d) => d.text);
  const englishChars = totalChars(englishTrain);
  const englishValidation = rng.shuffle(split.validation.flatMap((d) => paragraphs(d.text)));
  const decoder = recipe.objective === "clm";

  let trainTexts = englishTrain;
  let validationTexts = takeChars(englishValidation, VALIDATION_CHARS);
  let syntheticCount = 0;
  if (decoder) {
    say("generating synthetic task texts");
    const probe = syntheticPretrainingTexts({ seed, count: 200 });
    syntheticCount = Math.round(englishChars / (totalChars(probe) / probe.length));
    const synthetic = syntheticPretrainingTexts({ seed, count: syntheticCount });
    trainTexts = [...englishTrain, ...synthetic];
    const heldOut = syntheticPretrainingTexts({
      seed: seed + SYNTHETIC_VALIDATION_SEED_OFFSET,
      count: Math.max(50, Math.round(VALIDATION_CHARS / 2 / (totalChars(probe) / probe.length))),
    });
    validationTexts = interleaveByChars(
      takeChars(englishValidation, VALIDATION_CHARS / 2),
      takeChars(heldOut, VALIDATION_CHARS / 2),
    );
  }

  say(`training a ${recipe.tokenizer.kind} tokenizer of ${recipe.tokenizer.vocabSize} tokens`);
  const sample = takeChars(rng.shuffle([...trainTexts]), TOKENIZER_SAMPLE_CHARS);
  const json = decoder
    ? trainByteLevelBpe(sample, { vocabSize: recipe.tokenizer.vocabSize, specialTokens: ["<|endoftext|>"] })
    : trainWordPiece(sample, { vocabSize: recipe.tokenizer.vocabSize });
  const tokenizer = tokenizerFromJson(json, `${recipe.name} tokenizer`);
  const tokenizerFiles = {
    "tokenizer.json": tokenizerJsonText(json),
    "tokenizer_config.json": `${JSON.stringify(tokenizerConfigFor(json, { modelMaxLength: recipe.seqLen }), null, 2)}\n`,
  };
  const description = [
    `English corpus (Moby-Dick and State of the Union addresses, public domain): ${split.train.length} training documents (${englishChars} characters), ${split.validation.length} held out for validation (split by document, seed ${seed}).`,
    decoder
      ? `Plus ${syntheticCount} synthetic task texts (arbitrary-label classification, arithmetic, last letters; seed ${seed}) of about as many characters, so each half is ~50% of the training tokens; validation interleaves held-out English paragraphs with synthetic texts of another seed.`
      : "Validation: held-out paragraphs, shuffled.",
    `Tokenizer: ${recipe.tokenizer.kind} with ${tokenizer.vocabSize} tokens, trained on ${totalChars(sample)} characters of the training texts.`,
  ].join(" ");
  return { trainTexts, validationTexts, tokenizer, tokenizerFiles, description };
}

function totalChars(texts: readonly string[]): number {
  return texts.reduce((total, text) => total + text.length, 0);
}

function paragraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

/** The leading texts holding about `chars` characters (at least one). */
function takeChars(texts: readonly string[], chars: number): string[] {
  const out: string[] = [];
  let total = 0;
  for (const text of texts) {
    if (total >= chars && out.length > 0) break;
    out.push(text);
    total += text.length;
  }
  return out;
}

/** Merges two lists, always taking next from the one with fewer characters so far. */
function interleaveByChars(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  let charsA = 0;
  let charsB = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && charsA <= charsB)) {
      charsA += a[i].length;
      out.push(a[i++]);
    } else {
      charsB += b[j].length;
      out.push(b[j++]);
    }
  }
  return out;
}
