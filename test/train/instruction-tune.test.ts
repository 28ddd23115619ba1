// Instruction tuning on stories260K (a tiny trained Llama): the prompt is masked with -100 and only target
// tokens (answer + EOS) make the loss; a few full fine-tuning steps lower the loss on the instruction data;
// the per-cluster numbers equal a recount of the stored predictions; held-out clusters must not overlap the
// tuned ones; a finished run resumes to the same scores; divergence is a typed error.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CausalLMTaskModel } from "../../src/heads/causal-lm.js";
import type { LlamaForCausalLM } from "../../src/models/llama.js";
import { type LoadedModel, loadLocalModel } from "../../src/models/load-model.js";
import { causalModel } from "../../src/models/text-generation.js";
import * as T from "../../src/tensor/index.js";
import { collate } from "../../src/train/collate.js";
import { instructionExamples } from "../../src/train/instruction-data.js";
import {
  encodeInstruction,
  fitPrompt,
  InstructionTuneError,
  type InstructionTuneResult,
  instructionTrainExample,
  instructionTune,
  normaliseAnswer,
  pairedDelta,
  templateScores,
} from "../../src/train/instruction-tune.js";
import { makeTempDir } from "../io/temp-dir.js";
import { stories260K } from "../models/model-fixtures.js";

const load = () => loadLocalModel(stories260K.checkpoint, { tokenizer: stories260K.tokenizer });
const EOS = 2;

/** Mean masked loss of the rows, and the same number computed by hand from the logits. */
function losses(loaded: LoadedModel, rows: ReturnType<typeof instructionTrainExample>[]) {
  const task = new CausalLMTaskModel(causalModel(loaded) as LlamaForCausalLM);
  task.eval();
  return T.scope(() =>
    T.noGrad(() => {
      const batch = collate(rows, "CAUSAL_LM", 0);
      const outputs = task.forwardOutputs(batch.inputs);
      const loss = task.loss(outputs, batch.targets).item();
      const [b, seq, vocab] = outputs.logits.shape;
      const logits = outputs.logits.data;
      let sum = 0;
      let count = 0;
      for (let r = 0; r < b; r++) {
        const row = rows[r];
        for (let t = 1; t < row.inputIds.length; t++) {
          if ((row.labels as number[])[t] === T.IGNORE_INDEX) continue;
          const start = (r * seq + t - 1) * vocab;
          let max = -Infinity;
          for (let v = 0; v < vocab; v++) max = Math.max(max, logits[start + v]);
          let z = 0;
          for (let v = 0; v < vocab; v++) z += Math.exp(logits[start + v] - max);
          sum += max + Math.log(z) - logits[start + row.inputIds[t]];
          count++;
        }
      }
      return { loss, manual: sum / count, count };
    }),
  );
}

describe("completion-only labels", () => {
  const loaded = load();

  test("prompt tokens carry -100, the target's tokens and EOS are the labels", () => {
    const tokens = encodeInstruction(loaded, "Is the number even or odd?\n12\nAnswer:", " even", EOS);
    const row = instructionTrainExample(tokens, 256);
    const labels = row.labels as number[];
    assert.equal(row.inputIds.length, tokens.promptIds.length + tokens.targetIds.length);
    assert.deepEqual(labels.slice(0, tokens.promptIds.length), new Array(tokens.promptIds.length).fill(-100));
    assert.deepEqual(labels.slice(tokens.promptIds.length), tokens.targetIds);
    assert.equal(tokens.targetIds.at(-1), EOS);
    assert.equal(row.inputIds[0], 1, "llama2.c prompts start with BOS");
    // the target's tokens spell the answer
    const text = loaded.tokenizer?.decode(tokens.targetIds.slice(0, -1)) ?? "";
    assert.equal(text.trim(), "even");
  });

  test("the loss is the mean cross-entropy over target tokens only", () => {
    const examples = instructionExamples({ clusters: ["form"], split: "train", examplesPerTask: 3, seed: 9 });
    const rows = examples.map((e) =>
      instructionTrainExample(encodeInstruction(loaded, e.prompt, e.target, EOS), 256),
    );
    const { loss, manual, count } = losses(loaded, rows);
    const targets = rows.reduce((n, r) => n + (r.labels as number[]).filter((l) => l !== -100).length, 0);
    assert.equal(count, targets);
    assert.ok(Math.abs(loss - manual) < 1e-4, `${loss} vs ${manual}`);
  });

  test("long prompts keep their first token and their end", () => {
    assert.deepEqual(fitPrompt([1, 2, 3, 4, 5, 6], 2, 6), [1, 4, 5, 6]);
    assert.deepEqual(fitPrompt([1, 2, 3], 2, 6), [1, 2, 3]);
    assert.throws(
      () => fitPrompt([1, 2, 3], 5, 6),
      (e: unknown) => e instanceof InstructionTuneError,
    );
  });

  test("answers compare after normalisation; the paired delta is tuned minus untuned", () => {
    assert.equal(normaliseAnswer(' "Ye".\nmore'), "ye");
    assert.equal(normaliseAnswer(" 101."), "101");
    assert.equal(normaliseAnswer("The answer is 159."), "159");
    const delta = pairedDelta([false, false, true, true], [true, false, true, true], 1);
    assert.equal(delta.value, 0.25);
    const scores = templateScores(["a", "a", "b", "b"], [true, true, true, false], 1);
    assert.equal(scores.accuracy, 0.75);
    assert.deepEqual(scores.perTemplate, { a: 1, b: 0.5 });
    assert.equal(scores.templateMean, 0.75);
    assert.ok(Math.abs(scores.templateStd - Math.sqrt(0.125)) < 1e-12);
  });
});

describe("instructionTune on stories260K", () => {
  const out = join(makeTempDir("instruction-tune"), "run");
  const common = {
    trainClusters: ["topic", "form"] as const,
    heldoutClusters: ["sentiment", "last-letter"] as const,
    method: "full" as const,
    steps: 16,
    batchSize: 8,
    learningRate: 3e-3,
    examplesPerTask: 24,
    evalExamplesPerTask: 6,
    evalTemplates: 2,
    seed: 7,
  };
  const loaded = load();
  const before = (() => {
    const examples = instructionExamples({
      clusters: ["topic", "form"],
      split: "train",
      examplesPerTask: 24,
      seed: 7,
    });
    const rows = examples.map((e) =>
      instructionTrainExample(encodeInstruction(loaded, e.prompt, e.target, EOS), 256),
    );
    return { rows, loss: losses(loaded, rows).loss };
  })();
  const result: InstructionTuneResult = instructionTune({
    ...common,
    trainClusters: [...common.trainClusters],
    heldoutClusters: [...common.heldoutClusters],
    loaded,
    outputDir: out,
  });

  test("tuning lowers the masked loss on the instruction data", () => {
    const after = losses(loaded, before.rows).loss;
    assert.ok(after < before.loss - 0.5, `loss ${before.loss} -> ${after}`);
    assert.ok((result.lastLoss as number) < (result.firstLoss as number));
    assert.equal(result.trainExamples, 3 * 24);
  });

  test("every cluster's numbers equal a recount of the stored predictions", () => {
    assert.deepEqual(
      result.clusters.map((c) => [c.cluster, c.heldOut]),
      [
        ["topic", false],
        ["form", false],
        ["sentiment", true],
        ["last-letter", true],
      ],
    );
    for (const c of result.clusters) {
      const mine = result.examples.filter((e) => e.cluster === c.cluster);
      assert.equal(mine.length, c.examples);
      const tunedHits = mine.filter((e) => e.tunedCorrect).length;
      const untunedHits = mine.filter((e) => e.untunedCorrect).length;
      assert.equal(c.tuned.correct, tunedHits);
      assert.equal(c.tuned.accuracy, tunedHits / mine.length);
      assert.equal(c.untuned?.accuracy, untunedHits / mine.length);
      assert.ok(Math.abs((c.delta?.value ?? Number.NaN) - (tunedHits - untunedHits) / mine.length) < 1e-12);
      const templates = [...new Set(mine.map((e) => e.templateId))];
      // a template is one task's phrasing: two per task (form has two tasks)
      assert.equal(templates.length, 2 * c.tasks.length);
      const perTemplate = templates.map((id) => {
        const rows = mine.filter((e) => e.templateId === id);
        return rows.filter((e) => e.tunedCorrect).length / rows.length;
      });
      const mean = perTemplate.reduce((a, b) => a + b, 0) / perTemplate.length;
      assert.ok(Math.abs(c.tuned.templateMean - mean) < 1e-12);
      // held-out clusters are scored on templates tuning never used
      for (const id of templates) assert.equal(Number(id.split("/")[1]) >= 7, c.heldOut, id);
      for (const e of mine) {
        const answerCorrect = e.tuned === e.answer || normaliseAnswer(e.tuned) === normaliseAnswer(e.answer);
        assert.equal(e.tunedCorrect, answerCorrect);
      }
      assert.ok(c.tuned.low <= c.tuned.accuracy && c.tuned.accuracy <= c.tuned.high);
    }
    const stored = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as InstructionTuneResult;
    assert.deepEqual(stored.clusters, result.clusters);
    assert.equal(stored.examples.length, result.examples.length);
  });

  test("the tuned model folder loads and scores as the tuned model in memory", () => {
    assert.ok(existsSync(join(out, "model", "model.safetensors")));
    const reloaded = loadLocalModel(join(out, "model"));
    assert.equal(reloaded.weights.initialised.length, 0);
    const a = losses(loaded, before.rows.slice(0, 4)).loss;
    const b = losses(reloaded, before.rows.slice(0, 4)).loss;
    assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);
  });

  test("a second run refuses the old checkpoint; resuming the finished run gives the same scores", () => {
    const options = {
      ...common,
      trainClusters: [...common.trainClusters],
      heldoutClusters: [...common.heldoutClusters],
      skipUntuned: true,
      outputDir: out,
    };
    assert.throws(
      () => instructionTune({ ...options, loaded: load() }),
      (e: unknown) => e instanceof InstructionTuneError && e.code === "CHECKPOINT_EXISTS",
    );
    const resumed = instructionTune({ ...options, loaded: load(), resume: true });
    assert.deepEqual(
      resumed.clusters.map((c) => c.tuned),
      result.clusters.map((c) => c.tuned),
    );
  });

  test("a cluster both tuned and held out is refused; divergence is a typed error", () => {
    assert.throws(
      () =>
        instructionTune({
          loaded,
          trainClusters: ["topic", "form"],
          heldoutClusters: ["form"],
          outputDir: join(out, "x"),
        }),
      (e: unknown) => e instanceof InstructionTuneError && e.code === "OVERLAPPING_CLUSTERS",
    );
    assert.throws(
      () =>
        instructionTune({
          loaded: load(),
          trainClusters: ["topic"],
          heldoutClusters: [],
          steps: 3,
          batchSize: 4,
          examplesPerTask: 8,
          evalExamplesPerTask: 2,
          evalTemplates: 1,
          learningRate: 1e38,
          skipUntuned: true,
          outputDir: join(out, "nan"),
        }),
      (e: unknown) => e instanceof InstructionTuneError && e.code === "NON_FINITE_LOSS",
    );
  });
});
