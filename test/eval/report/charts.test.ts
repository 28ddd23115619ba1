// The chart builders: each draws one data mark per value, labels survive as (escaped) SVG text, the Pareto
// frontier keeps exactly the undominated points, and rendering never loads data from a URL.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type * as vega from "vega";
import {
  barChartSpec,
  bucketMeans,
  formatChartValue,
  lineChartSpec,
  paretoFrontier,
  renderSvg,
  scatterChartSpec,
} from "../../../src/eval/report/charts.js";
import { countMarks } from "./svg-marks.js";

describe("report charts", () => {
  test("line chart: one path per series, one symbol per point, log x drops non-positive x", async () => {
    const svg = await renderSvg(
      lineChartSpec({
        kind: "line",
        title: "Accuracy vs k",
        xLabel: "k",
        yLabel: "accuracy",
        percent: true,
        logX: true,
        series: [
          {
            name: "gold labels",
            points: [
              { x: 0, y: 0.5 },
              { x: 1, y: 0.6 },
              { x: 4, y: 0.7 },
              { x: 16, y: 0.8 },
            ],
          },
          {
            name: "random labels",
            points: [
              { x: 16, y: 0.75 },
              { x: 1, y: 0.55 },
              { x: 4, y: 0.68 },
            ],
          },
        ],
      }),
    );
    assert.equal(countMarks(svg, "line", "line", "path"), 2);
    assert.equal(countMarks(svg, "symbol", "point", "path"), 6);
    assert.ok(svg.includes(">random labels<"), "legend entry");
  });

  test("grouped bars: one rect per datum, error bars only where an interval is given, value labels", async () => {
    const svg = await renderSvg(
      barChartSpec({
        kind: "bars",
        title: "Per method",
        xLabel: "method",
        yLabel: "accuracy",
        percent: true,
        bars: [
          { category: "lora", group: "accuracy", value: 0.8, low: 0.7, high: 0.9 },
          { category: "lora", group: "macro-F1", value: 0.78 },
          { category: "<b>bold</b>", group: "accuracy", value: 0.6, low: 0.5, high: 0.7 },
          { category: "<b>bold</b>", group: "macro-F1", value: 0.55 },
        ],
      }),
    );
    assert.equal(countMarks(svg, "rect", "bar", "path"), 4);
    assert.equal(countMarks(svg, "rule", "error-bar", "line"), 2);
    assert.equal(countMarks(svg, "text", "bar-label", "text"), 4);
    for (const label of ["80.0%", "78.0%", "60.0%", "55.0%"]) assert.ok(svg.includes(`>${label}<`), label);
    assert.ok(!svg.includes("<b>bold</b>") && svg.includes("&lt;b&gt;bold&lt;/b&gt;"));
  });

  test("Pareto frontier: the points no other beats on both cost and metric", () => {
    const p = (label: string, x: number, y: number) => ({ label, x, y, group: "g" });
    const frontier = paretoFrontier([
      p("full", 1_000_000, 0.9),
      p("lora", 10_000, 0.88),
      p("bitfit", 1_000, 0.8),
      p("prompt", 500, 0.6),
      p("prefix", 20_000, 0.85), // dominated by lora
      p("houlsby", 50_000, 0.88), // ties lora on metric at a higher cost
    ]);
    assert.deepEqual(
      frontier.map((q) => q.label),
      ["prompt", "bitfit", "lora", "full"],
    );
  });

  test("scatter: a symbol and a label per point, the frontier line, log x", async () => {
    const svg = await renderSvg(
      scatterChartSpec({
        kind: "scatter",
        title: "Pareto",
        xLabel: "trainable parameters",
        yLabel: "accuracy",
        logX: true,
        frontier: true,
        percent: true,
        points: [
          { label: "lora", x: 10_000, y: 0.88, group: "specialist" },
          { label: "bitfit", x: 1_000, y: 0.8, group: "specialist" },
          { label: "prefix", x: 20_000, y: 0.85, group: "specialist" },
        ],
      }),
    );
    assert.equal(countMarks(svg, "symbol", "point", "path"), 3);
    assert.equal(countMarks(svg, "text", "point-label", "text"), 3);
    assert.equal(countMarks(svg, "line", "frontier", "path"), 1);
  });

  test("rendering refuses specs that load data from a URL", async () => {
    const spec = { width: 10, height: 10, data: [{ name: "remote", url: "https://example.com/data.json" }] };
    await assert.rejects(renderSvg(spec as vega.Spec), /load no data/);
  });

  test("long series are drawn as at most 1000 bucket means", async () => {
    const points = Array.from({ length: 2500 }, (_, i) => ({ x: i + 1, y: i % 2 }));
    const reduced = bucketMeans(points);
    assert.equal(reduced.length, 834); // buckets of 3
    assert.deepEqual(reduced[0], { x: 2, y: 1 / 3 });
    assert.deepEqual(reduced.at(-1), { x: 2500, y: 1 }); // the last bucket holds one point
    assert.equal(bucketMeans(points.slice(0, 10)).length, 10);
    const svg = await renderSvg(
      lineChartSpec({
        kind: "line",
        title: "loss",
        xLabel: "step",
        yLabel: "loss",
        series: [{ name: "a", points }],
      }),
    );
    assert.equal(countMarks(svg, "line", "line", "path"), 1);
    assert.equal(countMarks(svg, "symbol", "point", "path"), 0, "no symbol per point on long lines");
  });

  test("value labels", () => {
    assert.equal(formatChartValue(0.75, true), "75.0%");
    assert.equal(formatChartValue(1234.5678, false), "1230");
    assert.equal(formatChartValue(0.00001234, false), "1.23e-5");
  });
});
