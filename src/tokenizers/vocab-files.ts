// The "slow tokenizer" files of Hugging Face folders: BERT's vocab.txt (one WordPiece token per line, the
// line number is the id) and GPT-2's vocab.json + merges.txt (byte-level BPE). Special tokens and flags
// come from tokenizer_config.json / special_tokens_map.json when present, else BERT's and GPT-2's defaults.

import { readFileSync } from "node:fs";
import { ByteLevelBpeModel, parseMergeLines } from "./byte-level-bpe.js";
import { TokenizerError } from "./errors.js";
import { type HfTokenizerConfig, readJsonFile } from "./hf-config.js";
import {
  type AddedToken,
  findSpecial,
  type PostProcessor,
  PretrainedTokenizer,
  type SpecialToken,
  type SpecialTokens,
  type TemplateItem,
} from "./tokenizer.js";
import { WordPieceModel } from "./wordpiece.js";

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new TokenizerError("TOKENIZER_NOT_FOUND", `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function item(token: SpecialToken, typeId: number): TemplateItem {
  return { special: token.token, id: token.id, typeId };
}

/** Specials become added tokens so that "[MASK]" or "<|endoftext|>" written in text is one token. */
function specialAddedTokens(specials: SpecialTokens, extra: readonly AddedToken[]): AddedToken[] {
  const added = new Map<number, AddedToken>();
  for (const token of extra) added.set(token.id, token);
  for (const special of Object.values(specials) as (SpecialToken | undefined)[]) {
    if (special !== undefined && !added.has(special.id)) {
      added.set(special.id, { id: special.id, content: special.token, special: true });
    }
  }
  return [...added.values()];
}

/** BERT's vocab.txt: WordPiece with the basic tokenizer; [CLS] A [SEP] (B [SEP]) template. */
export function readVocabTxt(
  path: string,
  config: HfTokenizerConfig = { addedTokens: [] },
): PretrainedTokenizer {
  const lines = readText(path).split("\n");
  if (lines.at(-1) === "") lines.pop();
  const vocab = lines.map((line) => line.replace(/\r$/, ""));
  if (vocab.length === 0) {
    throw new TokenizerError("TOKENIZER_BAD_FILE", `${path} is empty; a vocab.txt holds one token per line`);
  }
  const lowercase = config.doLowerCase ?? true;
  const model = new WordPieceModel({
    vocab,
    unkToken: config.unkToken ?? "[UNK]",
    normalizer: {
      cleanText: true,
      handleChineseChars: config.tokenizeChineseChars ?? true,
      lowercase,
      stripAccents: config.stripAccents,
    },
  });
  const find = (token: string | undefined, fallback: string) =>
    findSpecial(model, config.addedTokens, token ?? fallback);
  const specials: SpecialTokens = {
    unk: find(config.unkToken, "[UNK]"),
    cls: find(config.clsToken, "[CLS]"),
    sep: find(config.sepToken, "[SEP]"),
    pad: find(config.padToken, "[PAD]"),
    mask: find(config.maskToken, "[MASK]"),
  };
  const { cls, sep } = specials;
  const template: PostProcessor | undefined =
    cls && sep
      ? {
          single: [item(cls, 0), { sequence: 0, typeId: 0 }, item(sep, 0)],
          pair: [
            item(cls, 0),
            { sequence: 0, typeId: 0 },
            item(sep, 0),
            { sequence: 1, typeId: 1 },
            item(sep, 1),
          ],
        }
      : undefined;
  return new PretrainedTokenizer({
    model,
    addedTokens: specialAddedTokens(specials, config.addedTokens),
    postProcessor: template,
    specialTokens: specials,
    cleanUpTokenizationSpaces: config.cleanUpTokenizationSpaces ?? true,
    modelMaxLength: config.modelMaxLength,
  });
}

/**
 * GPT-2's vocab.json (encoder.json) + merges.txt (vocab.bpe). RoBERTa-family tokenizer classes get
 * <s> A </s> (</s> B </s>) and trimmed offsets; GPT-2 adds BOS only when add_bos_token is set.
 */
export function readVocabJsonAndMerges(
  vocabPath: string,
  mergesPath: string,
  config: HfTokenizerConfig = { addedTokens: [] },
): PretrainedTokenizer {
  const json = readJsonFile(vocabPath);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TokenizerError(
      "TOKENIZER_BAD_FILE",
      `${vocabPath} should map tokens to ids ({"token": id, ...})`,
    );
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(json)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError(
        "TOKENIZER_BAD_FILE",
        `${vocabPath} maps ${JSON.stringify(token)} to ${JSON.stringify(id)}; ids are non-negative integers`,
      );
    }
    vocab.set(token, id);
  }
  const merges = parseMergeLines(readText(mergesPath).split(/\r?\n/), mergesPath);
  const roberta = /roberta|bart|longformer/i.test(config.tokenizerClass ?? "");
  const model = new ByteLevelBpeModel({
    vocab,
    merges,
    addPrefixSpace: config.addPrefixSpace ?? false,
    trimOffsets: roberta,
    unkToken: config.unkToken ?? (roberta ? "<unk>" : "<|endoftext|>"),
  });
  const find = (token: string | undefined, fallback?: string) =>
    findSpecial(model, config.addedTokens, token ?? fallback);
  const specials: SpecialTokens = roberta
    ? {
        bos: find(config.bosToken, "<s>"),
        eos: find(config.eosToken, "</s>"),
        unk: find(config.unkToken, "<unk>"),
        pad: find(config.padToken, "<pad>"),
        cls: find(config.clsToken, "<s>"),
        sep: find(config.sepToken, "</s>"),
        mask: find(config.maskToken, "<mask>"),
      }
    : {
        bos: find(config.bosToken, "<|endoftext|>"),
        eos: find(config.eosToken, "<|endoftext|>"),
        unk: find(config.unkToken, "<|endoftext|>"),
        pad: find(config.padToken),
      };
  let template: PostProcessor | undefined;
  const { cls, sep, bos, eos } = specials;
  if (roberta && cls && sep) {
    template = {
      single: [item(cls, 0), { sequence: 0, typeId: 0 }, item(sep, 0)],
      pair: [
        item(cls, 0),
        { sequence: 0, typeId: 0 },
        item(sep, 0),
        item(sep, 0),
        { sequence: 1, typeId: 0 },
        item(sep, 0),
      ],
    };
  } else {
    const before = config.addBosToken && bos ? [item(bos, 0)] : [];
    const after = config.addEosToken && eos ? [item(eos, 0)] : [];
    template = {
      single: [...before, { sequence: 0, typeId: 0 }, ...after],
      pair: [
        ...before,
        { sequence: 0, typeId: 0 },
        ...after,
        ...before,
        { sequence: 1, typeId: 1 },
        ...after,
      ],
    };
  }
  return new PretrainedTokenizer({
    model,
    addedTokens: specialAddedTokens(specials, config.addedTokens),
    postProcessor: template,
    specialTokens: specials,
    cleanUpTokenizationSpaces: config.cleanUpTokenizationSpaces ?? false,
    modelMaxLength: config.modelMaxLength,
  });
}
