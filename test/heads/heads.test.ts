// Task heads: HF names, the pair/segment path, per-token and QA losses, decoder pooling, span decoding with
// sliding windows, SQuAD and entity-level metrics on hand-checked examples.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CausalLMTaskModel, padLabelsForVirtualTokens } from "../../src/heads/causal-lm.js";
import { bioEntities, entityF1 } from "../../src/heads/entity-f1.js";
import {
  BertForQuestionAnswering,
  decodeAnswer,
  exactMatch,
  normalizeAnswer,
  questionAnsweringFeatures,
  questionAnsweringLoss,
  squadScores,
  tokenF1,
} from "../../src/heads/question-answering.js";
import {
  BertForSequenceClassification,
  DecoderForSequenceClassification,
  lastTokenIndices,
} from "../../src/heads/sequence-classification.js";
import { BertForTokenClassification } from "../../src/heads/token-classification.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { GPT2LMHeadModel } from "../../src/models/gpt2.js";
import * as T from "../../src/tensor/index.js";
import { readVocabTxt } from "../../src/tokenizers/vocab-files.js";
import { makeTempDir } from "../io/temp-dir.js";

const bertConfig = parseHfConfig({
  model_type: "bert",
  hidden_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 20,
  vocab_size: 30,
  max_position_embeddings: 32,
  type_vocab_size: 2,
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
  pad_token_id: 0,
});

const gpt2Config = parseHfConfig({
  model_type: "gpt2",
  n_embd: 16,
  n_layer: 1,
  n_head: 2,
  vocab_size: 30,
  n_positions: 32,
  pad_token_id: 0,
});

const ids = (rows: number[][]) => T.tensor(rows.flat(), [rows.length, rows[0].length], "int32");

describe("sequence classification", () => {
  test("HF parameter names: bert.* with pooler, classifier.*", () => {
    const model = new BertForSequenceClassification(bertConfig, { numLabels: 3 });
    const names = model.namedParameters().map(([n]) => n);
    assert.ok(names.includes("bert.embeddings.word_embeddings.weight"));
    assert.ok(names.includes("bert.pooler.dense.weight"));
    assert.deepEqual(model.headParameterNames(), ["classifier.weight", "classifier.bias"]);
    assert.deepEqual(model.classifier.weight.shape, [3, 16]);
    assert.ok(
      model.classifier.bias?.toArray().every((v) => v === 0),
      "HF initialises the head bias to zero",
    );
  });

  test("a sentence pair differs from the same tokens as one segment, and the loss is mean CE", () => {
    const model = new BertForSequenceClassification(bertConfig, { numLabels: 3, seed: 4 });
    const inputIds = ids([[2, 5, 6, 3, 7, 8, 3]]);
    const single = model.forward({ inputIds }).toArray();
    const pair = model.forward({ inputIds, tokenTypeIds: ids([[0, 0, 0, 0, 1, 1, 1]]) }).toArray();
    assert.ok(single.some((v, i) => Math.abs(v - pair[i]) > 1e-6));
    const logits = model.forward({
      inputIds: ids([
        [2, 5, 3],
        [2, 6, 3],
      ]),
    });
    const loss = model.loss({ logits }, { labels: T.tensor([0, 2], [2], "int32") }).item();
    const rows = logits.toArray();
    const ce = (row: number[], label: number) =>
      Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[label];
    assert.ok(Math.abs(loss - (ce(rows.slice(0, 3), 0) + ce(rows.slice(3), 2)) / 2) < 1e-5);
  });

  test("decoder classification reads the last non-padding token and trains score only through it", () => {
    assert.deepEqual(
      lastTokenIndices(
        {
          inputIds: ids([
            [5, 6, 0, 0],
            [5, 6, 7, 8],
          ]),
        },
        0,
      ),
      [1, 3],
    );
    assert.deepEqual(
      lastTokenIndices({ inputsEmbeds: T.zeros([1, 3, 2]), attentionMask: ids([[1, 1, 0]]) }, 0),
      [1],
    );
    const model = new DecoderForSequenceClassification(new GPT2LMHeadModel(gpt2Config, { seed: 1 }), 2);
    const names = model.namedParameters().map(([n]) => n);
    assert.ok(names.includes("score.weight") && !names.includes("score.bias"));
    assert.ok(names.every((n) => n.startsWith("transformer.") || n === "score.weight"));
    // Changing a padding position after the last real token does not change the logits (causal model).
    const a = model.forwardOutputs({ inputIds: ids([[5, 6, 7, 0]]) }).logits.toArray();
    const b = model.forwardOutputs({ inputIds: ids([[5, 6, 7]]) }).logits.toArray();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5);
  });
});

describe("token classification", () => {
  test("no pooler, logits per position, loss ignores -100", () => {
    const model = new BertForTokenClassification(bertConfig, { numLabels: 5, seed: 2 });
    assert.ok(!model.namedParameters().some(([n]) => n.includes("pooler")));
    const logits = model.forward({ inputIds: ids([[2, 5, 6, 3]]) });
    assert.deepEqual(logits.shape, [1, 4, 5]);
    const withIgnored = model.loss({ logits }, { labels: ids([[-100, 1, 4, -100]]) }).item();
    const two = T.slice(logits, 1, 1, 3);
    const direct = T.crossEntropy(two, ids([[1, 4]])).item();
    assert.ok(Math.abs(withIgnored - direct) < 1e-6);
  });

  test("entity-level F1 (seqeval's README example)", () => {
    const gold = [
      ["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"],
      ["B-PER", "I-PER", "O"],
    ];
    const predicted = [
      ["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"],
      ["B-PER", "I-PER", "O"],
    ];
    const scores = entityF1(gold, predicted);
    assert.equal(scores.precision, 0.5);
    assert.equal(scores.recall, 0.5);
    assert.equal(scores.f1, 0.5);
    assert.deepEqual(bioEntities(["I-LOC", "I-LOC", "B-LOC", "O", "I-PER"]), [
      { type: "LOC", start: 0, end: 1 },
      { type: "LOC", start: 2, end: 2 },
      { type: "PER", start: 4, end: 4 },
    ]);
  });
});

describe("question answering", () => {
  test("start/end logits and the loss over all positions, out-of-range positions ignored", () => {
    const model = new BertForQuestionAnswering(bertConfig, { seed: 3 });
    assert.deepEqual(model.headParameterNames(), ["qa_outputs.weight", "qa_outputs.bias"]);
    const out = model.forwardOutputs({
      inputIds: ids([[2, 5, 3, 6, 7, 3, 0]]),
      attentionMask: ids([[1, 1, 1, 1, 1, 1, 0]]),
    });
    assert.deepEqual(out.start_logits.shape, [1, 7]);
    const start = out.start_logits.toArray();
    const end = out.end_logits.toArray();
    const ce = (row: number[], label: number) =>
      Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[label];
    const loss = questionAnsweringLoss(
      out.start_logits,
      out.end_logits,
      T.tensor([3], [1], "int32"),
      T.tensor([4], [1], "int32"),
    );
    assert.ok(
      Math.abs(loss.item() - (ce(start, 3) + ce(end, 4)) / 2) < 1e-5,
      "padding position 6 is part of the softmax",
    );
    const ignored = questionAnsweringLoss(
      out.start_logits,
      out.end_logits,
      T.tensor([3], [1], "int32"),
      T.tensor([99], [1], "int32"),
    );
    assert.ok(Math.abs(ignored.item() - ce(start, 3) / 2) < 1e-5);
  });

  test("windows with doc stride map tokens back to characters; decoding picks the best valid span", () => {
    const dir = makeTempDir("qa");
    const vocab = [
      "[PAD]",
      "[UNK]",
      "[CLS]",
      "[SEP]",
      "[MASK]",
      "where",
      "is",
      "the",
      "cat",
      "sat",
      "on",
      "a",
      "mat",
      "in",
      "house",
      "?",
      ".",
    ];
    writeFileSync(join(dir, "vocab.txt"), `${vocab.join("\n")}\n`);
    const tokenizer = readVocabTxt(join(dir, "vocab.txt"));
    const context = "the cat sat on a mat in the house . the cat is in the house .";
    const answerStart = context.indexOf("a mat");
    const features = questionAnsweringFeatures(
      tokenizer,
      [{ question: "where is the cat ?", context, answerStart, answerText: "a mat" }],
      { maxLength: 16, docStride: 3 },
    );
    assert.ok(features.length > 1, "the context needs several windows");
    for (const f of features) {
      assert.equal(f.inputIds.length, 16);
      assert.equal(f.inputIds[0], tokenizer.clsTokenId);
      f.offsets.forEach((o, t) => {
        if (o) assert.equal(context.slice(o[0], o[1]), tokenizer.idToToken(f.inputIds[t]));
      });
    }
    // Consecutive windows share exactly docStride context tokens.
    const contextOffsets = features.map((f) =>
      f.offsets.filter((o): o is [number, number] => o !== null).map((o) => o[0]),
    );
    const shared = contextOffsets[0].filter((s) => contextOffsets[1].includes(s));
    assert.equal(shared.length, 3);
    const withAnswer = features.find((f) => f.startPosition > 0);
    assert.ok(withAnswer);
    const span = withAnswer.offsets.slice(withAnswer.startPosition, withAnswer.endPosition + 1) as [
      number,
      number,
    ][];
    assert.equal(context.slice(span[0][0], span.at(-1)?.[1]), "a mat");
    // Logits favouring the answer tokens in the window that holds it; an invalid end-before-start pair and
    // a question token get higher raw scores but must not win.
    const windows = features.map((f, i) => {
      const startLogits = f.inputIds.map(() => 0);
      const endLogits = f.inputIds.map(() => 0);
      if (f === withAnswer) {
        startLogits[f.startPosition] = 5;
        endLogits[f.endPosition] = 5;
        endLogits[f.startPosition - 1] = 9;
        startLogits[1] = 50;
        endLogits[1] = 50;
      }
      return { offsets: f.offsets, startLogits, endLogits, i };
    });
    const best = decodeAnswer(context, windows, { maxAnswerLength: 5 });
    assert.equal(best.text, "a mat");
    assert.equal(best.start, answerStart);
  });

  test("SQuAD normalisation, exact match and F1", () => {
    assert.equal(normalizeAnswer("The  Cat, sat!"), "cat sat");
    assert.equal(exactMatch("the cat", ["A cat."]), 1);
    assert.ok(Math.abs(tokenF1("the cat sat", ["a cat sat down"]) - 0.8) < 1e-12);
    assert.equal(tokenF1("", [""]), 1);
    assert.deepEqual(squadScores(["cat", "dog"], [["the cat"], ["cat"]]), { exactMatch: 50, f1: 50 });
  });
});

describe("causal LM task model", () => {
  test("same names as the LM; prompt-tuning labels padded with -100", () => {
    const lm = new GPT2LMHeadModel(gpt2Config, { seed: 5 });
    const task = new CausalLMTaskModel(lm);
    assert.deepEqual(
      task.namedParameters().map(([n]) => n),
      lm.namedParameters().map(([n]) => n),
    );
    assert.deepEqual(padLabelsForVirtualTokens(ids([[4, 5]]), 2).toArray(), [-100, -100, 4, 5]);
  });
});
