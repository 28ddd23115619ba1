// Charts derived from runs: accuracy against a swept numeric option (one line per setting of the other
// options), and self-consistency agreement counted for the chosen answer.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ReportRun } from "../../../src/eval/report/report-input.js";
import { optionSweepCharts, pointLabel, voteAgreementChart } from "../../../src/eval/report/run-charts.js";

function promptRun(id: string, options: Record<string, unknown>, accuracy: number, task = "sst2"): ReportRun {
  return {
    id,
    kind: "prompt",
    path: id,
    model: "gpt-test",
    task,
    approach: "few-shot",
    options,
    metric: { name: "accuracy", value: accuracy },
    cost: {},
  };
}

describe("charts derived from runs", () => {
  test("accuracy vs k: one line per label setting, seeds ignored, lone runs left out", () => {
    const runs = [
      promptRun("a", { k: 0, labels: "gold", seed: 1 }, 0.5),
      promptRun("b", { k: 4, labels: "gold", seed: 2 }, 0.7),
      promptRun("c", { k: 16, labels: "gold", seed: 3 }, 0.8),
      promptRun("d", { k: 4, labels: "flipped", seed: 1 }, 0.4),
      promptRun("e", { k: 16, labels: "flipped", seed: 1 }, 0.3),
      promptRun("f", { k: 8, labels: "gold" }, 0.9, "other-task"),
    ];
    const charts = optionSweepCharts(runs);
    assert.equal(charts.length, 1);
    const chart = charts[0];
    assert.equal(chart?.title, "Accuracy vs k: few-shot on sst2 (gpt-test)");
    assert.deepEqual(
      chart?.series.map((s) => [s.name, s.points.map((p) => [p.x, p.y])]),
      [
        [
          "labels=gold",
          [
            [0, 0.5],
            [4, 0.7],
            [16, 0.8],
          ],
        ],
        [
          "labels=flipped",
          [
            [4, 0.4],
            [16, 0.3],
          ],
        ],
      ],
    );
  });

  test("vote agreement: paths for the chosen answer over all paths, split by correctness", () => {
    const chart = voteAgreementChart("sc", [
      { answer: "3", correct: true, votes: [{ answer: "3", count: 5 }] },
      {
        answer: "4",
        correct: false,
        votes: [
          { answer: "4", count: 3 },
          { answer: "5", count: 2 },
        ],
      },
      {
        answer: "6",
        correct: true,
        votes: [
          { answer: "6", count: 3 },
          { answer: "1", count: 1 },
          { answer: "2", count: 1 },
        ],
      },
      { answer: "7", correct: true },
    ]);
    assert.deepEqual(
      chart?.bars.map((b) => [b.category, b.group, b.value]),
      [
        ["3/5", "correct", 1],
        ["3/5", "wrong", 1],
        ["5/5", "correct", 1],
        ["5/5", "wrong", 0],
      ],
    );
    assert.equal(voteAgreementChart("none", [{ answer: "1", correct: true }]), null);
  });

  test("point labels do not repeat the approach", () => {
    assert.equal(pointLabel(promptRun("runs/few-shot", {}, 1)), "runs/few-shot");
    assert.equal(pointLabel(promptRun("runs/r1", {}, 1)), "few-shot (runs/r1)");
  });
});
