// Chart specs for the HTML report, one builder per chart kind, written in Vega (the grammar under Vega-Lite;
// Vega renders to SVG in Node without a browser or canvas). Each builder takes the report model's chart data
// and returns a complete spec with the data inlined, so rendering never loads anything. The data marks carry
// names ("line", "point", "bar", "error-bar", "bar-label", "frontier", "point-label") that Vega writes into
// the SVG's class attributes: tests and readers can find the marks of the data among the axes and legends.

import * as vega from "vega";
import type {
  BarChartData,
  LineChartData,
  LinePoint,
  ReportChart,
  ScatterChartData,
  ScatterPoint,
} from "./report-input.js";

export interface ChartSize {
  width?: number;
  height?: number;
}

const DEFAULT_WIDTH = 560;
const DEFAULT_HEIGHT = 260;
/** Above this many points per chart, lines are drawn without a symbol per point (SVG size). */
const MAX_SYMBOL_POINTS = 200;

function baseSpec(title: string, size: ChartSize): Record<string, unknown> {
  return {
    description: title,
    width: size.width ?? DEFAULT_WIDTH,
    height: size.height ?? DEFAULT_HEIGHT,
    padding: 8,
    autosize: "pad",
    background: "white",
    title: { text: title, anchor: "start", fontSize: 13 },
    config: { axis: { labelFontSize: 10, titleFontSize: 11 }, legend: { labelLimit: 220 } },
  };
}

/** Formats a value for a label: percentages with one decimal, else three significant digits. */
export function formatChartValue(value: number, percent: boolean): string {
  if (!Number.isFinite(value)) return String(value);
  if (percent) return `${(100 * value).toFixed(1)}%`;
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(3)).toString();
}

/** Points drawn per line at most: longer series (e.g. 50,000 training steps) are drawn as bucket means. */
export const MAX_LINE_POINTS = 1000;

/**
 * `points` (sorted by x) reduced to at most `max` points, each the mean x and y of a run of consecutive points:
 * the curve keeps its shape (and is smoothed a little) while the SVG stays small.
 */
export function bucketMeans(points: readonly LinePoint[], max = MAX_LINE_POINTS): LinePoint[] {
  if (points.length <= max) return [...points];
  const size = Math.ceil(points.length / max);
  const out: LinePoint[] = [];
  for (let start = 0; start < points.length; start += size) {
    const bucket = points.slice(start, start + size);
    out.push({
      x: bucket.reduce((sum, p) => sum + p.x, 0) / bucket.length,
      y: bucket.reduce((sum, p) => sum + p.y, 0) / bucket.length,
    });
  }
  return out;
}

/** Line chart with one line per series (loss curves, accuracy vs k, flipped-label curves). */
export function lineChartSpec(chart: LineChartData, size: ChartSize = {}): vega.Spec {
  const values = chart.series.flatMap((series) =>
    bucketMeans(
      series.points
        .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!chart.logX || p.x > 0))
        .sort((a, b) => a.x - b.x),
    ).map((p) => ({ series: series.name, x: p.x, y: p.y })),
  );
  const withSymbols = values.length <= MAX_SYMBOL_POINTS;
  const encodeXY = { x: { scale: "x", field: "x" }, y: { scale: "y", field: "y" } };
  const seriesMarks: unknown[] = [
    {
      type: "line",
      name: "line",
      from: { data: "seriesPoints" },
      sort: { field: "datum.x" },
      encode: {
        enter: { ...encodeXY, stroke: { scale: "color", field: "series" }, strokeWidth: { value: 2 } },
      },
    },
  ];
  if (withSymbols) {
    seriesMarks.push({
      type: "symbol",
      name: "point",
      from: { data: "seriesPoints" },
      encode: { enter: { ...encodeXY, fill: { scale: "color", field: "series" }, size: { value: 24 } } },
    });
  }
  return {
    ...baseSpec(chart.title, size),
    data: [{ name: "points", values }],
    scales: [
      {
        name: "x",
        type: chart.logX ? "log" : "linear",
        domain: { data: "points", field: "x" },
        range: "width",
        nice: !chart.logX,
        zero: false,
      },
      {
        name: "y",
        type: "linear",
        domain: { data: "points", field: "y" },
        range: "height",
        nice: true,
        zero: false,
      },
      {
        name: "color",
        type: "ordinal",
        domain: chart.series.map((s) => s.name),
        range: "category",
      },
    ],
    axes: [
      { orient: "bottom", scale: "x", title: chart.xLabel, tickCount: 8 },
      {
        orient: "left",
        scale: "y",
        title: chart.yLabel,
        grid: true,
        tickCount: 6,
        ...(chart.percent ? { format: ".0%" } : {}),
      },
    ],
    legends: chart.series.length > 1 ? [{ stroke: "color", fill: "color", orient: "right" }] : [],
    marks: [
      {
        type: "group",
        name: "series",
        from: { facet: { name: "seriesPoints", data: "points", groupby: "series" } },
        marks: seriesMarks,
      },
    ],
  } as vega.Spec;
}

/**
 * Grouped bar chart: one band per category, one bar per group inside it, optional error bars (low/high) and
 * the value written above each bar (accuracy per run with its CI, per-method metrics, vote distributions).
 */
export function barChartSpec(chart: BarChartData, size: ChartSize = {}): vega.Spec {
  const percent = chart.percent ?? false;
  const values = chart.bars
    .filter((b) => Number.isFinite(b.value))
    .map((b) => {
      const hasInterval =
        b.low !== undefined && b.high !== undefined && Number.isFinite(b.low) && Number.isFinite(b.high);
      return {
        category: b.category,
        group: b.group,
        value: b.value,
        ...(hasInterval ? { low: b.low, high: b.high } : {}),
        slot: b.group,
        labelY: hasInterval ? Math.max(b.value, b.high as number) : b.value,
        label: formatChartValue(b.value, percent),
      };
    });
  const top = Math.max(0, ...values.map((v) => v.labelY));
  const bottom = Math.min(0, ...values.map((v) => ("low" in v ? (v.low as number) : v.value)));
  const yMax = percent ? Math.max(1, top) : top === 0 ? 1 : top * 1.12;
  const categories = [...new Set(values.map((v) => v.category))];
  const groups = [...new Set(values.map((v) => v.group))];
  // One bar per category (e.g. accuracy per run, coloured by kind): the bar fills its band instead of
  // keeping a slot for every colour.
  const single = categories.length === values.length;
  if (single) for (const v of values) v.slot = "";
  const slots = single ? [""] : groups;
  const longLabels = categories.some((c) => c.length > 12) || categories.length > 6;
  // Wide enough for every bar to stay visible (the page scales the SVG down to its width).
  const width = size.width ?? Math.max(DEFAULT_WIDTH, 24 * values.length + 12 * categories.length);
  return {
    ...baseSpec(chart.title, { ...size, width }),
    data: [{ name: "bars", values }],
    scales: [
      { name: "category", type: "band", domain: categories, range: "width", padding: 0.2 },
      { name: "y", type: "linear", domain: [bottom, yMax], range: "height", nice: !percent, zero: true },
      { name: "color", type: "ordinal", domain: groups, range: "category" },
    ],
    axes: [
      {
        orient: "bottom",
        scale: "category",
        title: chart.xLabel,
        labelLimit: 240,
        ...(longLabels ? { labelAngle: -25, labelAlign: "right", labelBaseline: "top" } : {}),
      },
      {
        orient: "left",
        scale: "y",
        title: chart.yLabel,
        grid: true,
        ...(percent ? { format: ".0%" } : {}),
      },
    ],
    legends: groups.length > 1 ? [{ fill: "color", orient: "right" }] : [],
    marks: [
      {
        type: "group",
        name: "categories",
        from: { facet: { name: "facet", data: "bars", groupby: "category" } },
        encode: { enter: { x: { scale: "category", field: "category" } } },
        signals: [{ name: "width", update: "bandwidth('category')" }],
        scales: [{ name: "position", type: "band", domain: slots, range: "width", padding: 0.05 }],
        data: [
          { name: "intervals", source: "facet", transform: [{ type: "filter", expr: "isValid(datum.low)" }] },
        ],
        marks: [
          {
            type: "rect",
            name: "bar",
            from: { data: "facet" },
            encode: {
              enter: {
                x: { scale: "position", field: "slot" },
                width: { scale: "position", band: 1 },
                y: { scale: "y", field: "value" },
                y2: { scale: "y", value: 0 },
                fill: { scale: "color", field: "group" },
              },
            },
          },
          {
            type: "rule",
            name: "error-bar",
            from: { data: "intervals" },
            encode: {
              enter: {
                x: { scale: "position", field: "slot", band: 0.5 },
                y: { scale: "y", field: "low" },
                y2: { scale: "y", field: "high" },
                stroke: { value: "#222" },
                strokeWidth: { value: 1.5 },
              },
            },
          },
          {
            type: "text",
            name: "bar-label",
            from: { data: "facet" },
            encode: {
              enter: {
                x: { scale: "position", field: "slot", band: 0.5 },
                y: { scale: "y", field: "labelY", offset: -4 },
                text: { field: "label" },
                align: { value: "center" },
                baseline: { value: "bottom" },
                fontSize: { value: 10 },
                fill: { value: "#222" },
              },
            },
          },
        ],
      },
    ],
  } as vega.Spec;
}

/**
 * The Pareto frontier of points where less x (cost) and more y (metric) are better: the points that no other
 * point beats on both, sorted by x.
 */
export function paretoFrontier(points: readonly ScatterPoint[]): ScatterPoint[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || b.y - a.y);
  const frontier: ScatterPoint[] = [];
  let best = Number.NEGATIVE_INFINITY;
  for (const point of sorted) {
    if (point.y > best) {
      frontier.push(point);
      best = point.y;
    }
  }
  return frontier;
}

/** Scatter with a label per point, optional log x and the Pareto frontier (metric vs parameters or cost). */
export function scatterChartSpec(chart: ScatterChartData, size: ChartSize = {}): vega.Spec {
  const points = chart.points.filter(
    (p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!chart.logX || p.x > 0),
  );
  const frontier = chart.frontier ? paretoFrontier(points) : [];
  const groups = [...new Set(points.map((p) => p.group))];
  // Headroom around the points, but a rate axis stops at 0% and 100%.
  const ys = points.map((p) => p.y);
  const low = ys.length > 0 ? Math.min(...ys) : 0;
  const high = ys.length > 0 ? Math.max(...ys) : 1;
  // A span of at least 10 points for rates (else equal values give an axis of repeated "50%" ticks).
  const span = Math.max(high - low, chart.percent ? 0.1 : Math.abs(high) * 0.2 || 1);
  const middle = (low + high) / 2;
  const half = span * 0.55;
  let yDomain = [middle - half, middle + half];
  if (chart.percent) {
    // keep the span inside [0, 1] by shifting, not cutting, so the points keep their headroom
    if (yDomain[0] < 0) yDomain = [0, Math.min(1, 2 * half)];
    if (yDomain[1] > 1) yDomain = [Math.max(0, 1 - 2 * half), 1];
  }
  const marks: unknown[] = [];
  if (frontier.length > 1) {
    marks.push({
      type: "line",
      name: "frontier",
      from: { data: "frontierPoints" },
      encode: {
        enter: {
          x: { scale: "x", field: "x" },
          y: { scale: "y", field: "y" },
          stroke: { value: "#888" },
          strokeDash: { value: [4, 3] },
          interpolate: { value: "step-after" },
        },
      },
    });
  }
  marks.push(
    {
      type: "symbol",
      name: "point",
      from: { data: "points" },
      encode: {
        enter: {
          x: { scale: "x", field: "x" },
          y: { scale: "y", field: "y" },
          fill: { scale: "color", field: "group" },
          size: { value: 70 },
          stroke: { value: "white" },
        },
      },
    },
    {
      type: "text",
      name: "point-label",
      from: { data: "points" },
      encode: {
        enter: {
          x: { scale: "x", field: "x" },
          dx: { signal: "scale('x', datum.x) > width * 0.6 ? -7 : 7" },
          align: { signal: "scale('x', datum.x) > width * 0.6 ? 'right' : 'left'" },
          y: { scale: "y", field: "y", offset: -6 },
          text: { field: "label" },
          fontSize: { value: 10 },
          fill: { value: "#222" },
          limit: { value: 320 },
        },
      },
    },
  );
  return {
    ...baseSpec(chart.title, size),
    data: [
      { name: "points", values: points.map((p) => ({ ...p })) },
      { name: "frontierPoints", values: frontier.map((p) => ({ x: p.x, y: p.y })) },
    ],
    scales: [
      {
        name: "x",
        type: chart.logX ? "log" : "linear",
        domain: { data: "points", field: "x" },
        range: "width",
        nice: true,
        zero: false,
        padding: 16,
      },
      { name: "y", type: "linear", domain: yDomain, range: "height", nice: !chart.percent, zero: false },
      { name: "color", type: "ordinal", domain: groups, range: "category" },
    ],
    axes: [
      { orient: "bottom", scale: "x", title: chart.xLabel, ...(chart.logX ? { format: "~s" } : {}) },
      {
        orient: "left",
        scale: "y",
        title: chart.yLabel,
        grid: true,
        tickCount: 6,
        ...(chart.percent ? { format: ".0%" } : {}),
      },
    ],
    legends: groups.length > 1 ? [{ fill: "color", orient: "right" }] : [],
    marks,
  } as vega.Spec;
}

/** The spec of any report chart. */
export function chartSpec(chart: ReportChart, size: ChartSize = {}): vega.Spec {
  switch (chart.kind) {
    case "line":
      return lineChartSpec(chart, size);
    case "bars":
      return barChartSpec(chart, size);
    case "scatter":
      return scatterChartSpec(chart, size);
  }
}

type VegaLogger = NonNullable<NonNullable<ConstructorParameters<typeof vega.View>[1]>["logger"]>;

/** A Vega logger that keeps errors instead of printing them (the library never prints). */
function collectingLogger(errors: string[]): VegaLogger {
  const logger = {
    level: (level?: number) => (level === undefined ? 1 : logger),
    error: (...args: unknown[]) => {
      errors.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(" "));
      return logger;
    },
    warn: () => logger,
    info: () => logger,
    debug: () => logger,
  };
  return logger as unknown as VegaLogger;
}

/**
 * Renders a spec to an SVG string in Node (no browser, no canvas: text widths are estimated). Data must be
 * inline: a data set with a URL is refused before rendering, and the loader refuses every request, so a spec
 * can never make the report fetch anything. Vega's errors reject the promise instead of being printed.
 */
export async function renderSvg(spec: vega.Spec): Promise<string> {
  for (const data of spec.data ?? []) {
    if ("url" in data && data.url !== undefined)
      throw new Error(`report charts load no data (data set "${data.name}" has a url): inline the values`);
  }
  const errors: string[] = [];
  const offlineLoader = vega.loader();
  offlineLoader.load = (uri: string) =>
    Promise.reject(new Error(`report charts load no data (a spec asked for ${uri}): inline the values`));
  const view = new vega.View(vega.parse(spec), {
    renderer: "none",
    loader: offlineLoader,
    logger: collectingLogger(errors),
  });
  try {
    const svg = await view.toSVG();
    if (errors.length > 0) throw new Error(`the chart could not be drawn: ${errors.join("; ")}`);
    return svg;
  } finally {
    view.finalize();
  }
}
