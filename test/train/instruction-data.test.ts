// Instruction data: ten distinct templates per task, every one rendering its input (and its options for
// classification), seeded and deterministic data, tuning data drawn only from the tuning clusters and
// tuning templates, and test records that do not repeat training records.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CLUSTER_NAMES,
  INSTRUCTION_TASKS,
  InstructionDataError,
  instructionExamples,
  parseClusters,
  renderTemplate,
  TEMPLATES_PER_TASK,
  TUNING_TEMPLATES,
  taskRecords,
  tasksOfCluster,
} from "../../src/train/instruction-data.js";

describe("instruction templates", () => {
  test("every task has ten distinct templates in one of the six clusters", () => {
    assert.deepEqual(
      INSTRUCTION_TASKS.map((t) => t.name),
      ["sentiment", "topic", "parity", "repetition", "arithmetic", "last-letter", "spam"],
    );
    for (const task of INSTRUCTION_TASKS) {
      assert.ok(CLUSTER_NAMES.includes(task.cluster));
      assert.equal(task.templates.length, TEMPLATES_PER_TASK, task.name);
      assert.equal(new Set(task.templates.map((t) => t.prompt)).size, TEMPLATES_PER_TASK, task.name);
      assert.deepEqual(
        task.templates.map((t) => t.index),
        Array.from({ length: TEMPLATES_PER_TASK }, (_, i) => i),
      );
    }
    assert.deepEqual(
      tasksOfCluster("form").map((t) => t.name),
      ["parity", "repetition"],
    );
  });

  test("a rendered template holds the input, fills every slot, and lists options only for classification", () => {
    for (const task of INSTRUCTION_TASKS) {
      const answer = task.options[0] ?? "42";
      for (const template of task.templates) {
        const { prompt, target } = renderTemplate(template, task, "INPUT-TEXT", answer);
        assert.ok(prompt.includes("INPUT-TEXT"), template.id);
        assert.ok(!/[{}]/.test(prompt), `${template.id}: ${prompt}`);
        assert.equal(target, ` ${answer}`);
        if (task.kind === "generation") assert.ok(!/options/i.test(prompt), template.id);
      }
      if (task.kind === "classification") {
        // some templates list the options, some name them inline, some leave them out (as FLAN's)
        const rendered = task.templates.map((t) => renderTemplate(t, task, "x", answer).prompt);
        assert.ok(rendered.some((p) => p.includes("OPTIONS:\n- ")));
        assert.ok(rendered.some((p) => p.includes("Options: ")));
        assert.ok(rendered.some((p) => !/options/i.test(p)));
      }
    }
  });

  test("unknown clusters are a typed error naming the known ones", () => {
    assert.deepEqual(parseClusters(["topic", "form", "topic"]), ["topic", "form"]);
    assert.throws(
      () => parseClusters(["poetry"]),
      (e: unknown) =>
        e instanceof InstructionDataError &&
        e.code === "UNKNOWN_CLUSTER" &&
        e.message.includes("last-letter"),
    );
  });
});

describe("instruction examples", () => {
  const clusters = ["sentiment", "topic", "form", "arithmetic", "last-letter"] as const;

  test("the same seed gives the same examples, another seed other ones", () => {
    const a = instructionExamples({ clusters, split: "train", examplesPerTask: 12, seed: 3 });
    const b = instructionExamples({ clusters, split: "train", examplesPerTask: 12, seed: 3 });
    const c = instructionExamples({ clusters, split: "train", examplesPerTask: 12, seed: 4 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(
      a.map((e) => e.prompt),
      c.map((e) => e.prompt),
    );
    // 6 tasks x 12 records, one sampled template each
    assert.equal(a.length, 6 * 12);
    for (const e of a) {
      assert.equal(e.target, ` ${e.answer}`);
      assert.ok(e.templateIndex < TUNING_TEMPLATES, e.templateId);
      if (e.kind === "classification") assert.ok(e.optionTargets.includes(e.target));
    }
    // sampling spreads records over the tuning templates
    assert.ok(new Set(a.filter((e) => e.task === "topic").map((e) => e.templateIndex)).size >= 4);
  });

  test("tuning data holds only the tuning clusters; held-out clusters never appear in it", () => {
    const tuning = instructionExamples({
      clusters: ["topic", "form"],
      split: "train",
      examplesPerTask: 20,
      seed: 1,
    });
    assert.deepEqual([...new Set(tuning.map((e) => e.cluster))].sort(), ["form", "topic"]);
    assert.deepEqual([...new Set(tuning.map((e) => e.task))].sort(), ["parity", "repetition", "topic"]);
    const heldOutWords = ["positive", "negative", "concatenate", "How many"];
    for (const e of tuning) for (const word of heldOutWords) assert.ok(!e.prompt.includes(word), e.prompt);
  });

  test("evaluation renders every record through each requested template", () => {
    const examples = instructionExamples({
      clusters: ["sentiment"],
      split: "test",
      examplesPerTask: 5,
      seed: 2,
      templates: [7, 8, 9],
      mode: "all",
    });
    assert.equal(examples.length, 15);
    assert.deepEqual(
      examples.slice(0, 3).map((e) => e.templateId),
      ["sentiment/7", "sentiment/8", "sentiment/9"],
    );
    assert.throws(
      () =>
        instructionExamples({
          clusters: ["topic"],
          split: "test",
          examplesPerTask: 2,
          seed: 1,
          templates: [10],
        }),
      (e: unknown) => e instanceof InstructionDataError && e.code === "BAD_OPTION",
    );
  });

  test("test records are balanced and repeat no training input", () => {
    for (const task of INSTRUCTION_TASKS.filter((t) => t.name !== "spam")) {
      const train = taskRecords(task, "train", 200, 5);
      const testRecords = taskRecords(task, "test", 40, 5, 240, 200);
      assert.equal(testRecords.length, 40, task.name);
      const seen = new Set(train.map((r) => r.input));
      for (const r of testRecords) assert.ok(!seen.has(r.input), `${task.name}: ${r.input}`);
      if (task.kind === "classification") {
        const counts = new Map<string, number>();
        for (const r of testRecords) counts.set(r.answer, (counts.get(r.answer) ?? 0) + 1);
        assert.deepEqual([...counts.keys()].sort(), [...task.options].sort(), task.name);
      }
    }
  });
});
