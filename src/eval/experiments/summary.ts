// From finished cells to the numbers an experiment reports: measurements are grouped by the coordinates a
// table shows (seed left out, so seeds pool), each group's per-example correctness is concatenated, and its
// accuracy gets a seeded percentile-bootstrap interval. Plot series are read off the same rows, so the plot
// and the table can never disagree.

import { accuracyInterval } from "../../train/bootstrap.js";
import type { LineChartData, LineSeries } from "../report/report-input.js";
import type { CellResult, Coordinate, Coordinates, ExperimentRow, ExperimentTable } from "./experiment.js";

/** A measurement with its cell's coordinates merged in. */
export interface FlatMeasurement {
  coordinates: Coordinates;
  correct: boolean[];
  excluded: number;
  cellKey: string;
}

export function flattenMeasurements(cells: readonly CellResult[]): FlatMeasurement[] {
  return cells.flatMap((cell) =>
    cell.measurements.map((measurement) => ({
      coordinates: { ...cell.coordinates, ...measurement.coordinates },
      correct: [...measurement.correct].map((c) => c === "1"),
      excluded: measurement.excluded ?? 0,
      cellKey: cell.key,
    })),
  );
}

export function encodeCorrect(correct: readonly boolean[]): string {
  return correct.map((c) => (c ? "1" : "0")).join("");
}

/**
 * Rows grouped by `keys` (in order of first appearance), each pooling every measurement with those
 * coordinates. `filter` keeps only some measurements (e.g. one model).
 */
export function poolRows(
  cells: readonly CellResult[],
  keys: readonly string[],
  filter: (coordinates: Coordinates) => boolean = () => true,
): ExperimentRow[] {
  const groups = new Map<
    string,
    { coordinates: Coordinates; correct: boolean[]; excluded: number; cells: Set<string> }
  >();
  for (const measurement of flattenMeasurements(cells)) {
    if (!filter(measurement.coordinates)) continue;
    const coordinates: Coordinates = {};
    for (const key of keys) {
      const value = measurement.coordinates[key];
      if (value !== undefined) coordinates[key] = value;
    }
    const id = JSON.stringify(keys.map((key) => coordinates[key] ?? null));
    const group = groups.get(id) ?? { coordinates, correct: [], excluded: 0, cells: new Set<string>() };
    group.correct.push(...measurement.correct);
    group.excluded += measurement.excluded;
    group.cells.add(measurement.cellKey);
    groups.set(id, group);
  }
  return [...groups.values()].map((group) => {
    const correct = group.correct.filter(Boolean).length;
    const interval = accuracyInterval(group.correct, { seed: 0 });
    return {
      coordinates: group.coordinates,
      accuracy: group.correct.length === 0 ? 0 : correct / group.correct.length,
      correct,
      total: group.correct.length,
      low: interval.low,
      high: interval.high,
      cells: group.cells.size,
      excluded: group.excluded,
    };
  });
}

/** The rows with exactly these coordinate values. */
export function rowsWhere(rows: readonly ExperimentRow[], where: Coordinates): ExperimentRow[] {
  return rows.filter((row) => Object.entries(where).every(([key, value]) => row.coordinates[key] === value));
}

export interface SeriesSpec {
  name: string;
  /** The rows of this series; x from `x(row)`. */
  rows: readonly ExperimentRow[];
  x: (row: ExperimentRow) => number;
}

/** A line chart of accuracy (percent axis) with one series per spec; points sorted by x. */
export function accuracyLineChart(
  title: string,
  xLabel: string,
  series: readonly SeriesSpec[],
  options: { logX?: boolean } = {},
): LineChartData {
  const lines: LineSeries[] = series
    .map((spec) => ({
      name: spec.name,
      // a row with no scored example (every prompt too long) has no accuracy to draw
      points: spec.rows
        .filter((row) => row.total > 0)
        .map((row) => ({ x: spec.x(row), y: row.accuracy }))
        .sort((a, b) => a.x - b.x),
    }))
    .filter((line) => line.points.length > 0);
  return {
    kind: "line",
    title,
    xLabel,
    yLabel: "accuracy",
    series: lines,
    percent: true,
    ...(options.logX ? { logX: true } : {}),
  };
}

/** Distinct values of a coordinate, in order of first appearance. */
export function distinct(cells: readonly { coordinates: Coordinates }[], key: string): Coordinate[] {
  const out: Coordinate[] = [];
  for (const cell of cells) {
    const value = cell.coordinates[key];
    if (value !== undefined && !out.includes(value)) out.push(value);
  }
  return out;
}

export function percent(value: number): string {
  return `${(100 * value).toFixed(1)}%`;
}

/** The main table: the row keys, then accuracy, its interval, correct/total and the pooled cells. */
export function rowsTable(
  title: string,
  rowKeys: readonly string[],
  rows: readonly ExperimentRow[],
): ExperimentTable {
  // shown only when it happened: prompts longer than the model's context are left out of the accuracy
  const tooLong = rows.some((row) => row.excluded > 0);
  return {
    title,
    columns: [...rowKeys, "accuracy", "95% CI", "correct/total", "cells", ...(tooLong ? ["too long"] : [])],
    rows: rows.map((row) => [
      ...rowKeys.map((key) => row.coordinates[key] ?? null),
      row.total > 0 ? percent(row.accuracy) : "-",
      row.total > 0 ? `${percent(row.low)}–${percent(row.high)}` : "-",
      `${row.correct}/${row.total}`,
      row.cells,
      ...(tooLong ? [row.excluded] : []),
    ]),
    ...(tooLong
      ? {
          note: "too long: examples whose prompt did not fit the model's context, left out of the accuracy",
        }
      : {}),
  };
}

/** A plain-text table (columns padded, numbers right-aligned). */
export function formatTextTable(table: ExperimentTable): string {
  const cells = table.rows.map((row) => row.map((cell) => (cell === null ? "-" : String(cell))));
  const widths = table.columns.map((column, i) =>
    Math.max(column.length, ...cells.map((row) => (row[i] ?? "").length)),
  );
  const numeric = table.columns.map((_, i) =>
    table.rows.every((row) => typeof row[i] === "number" || row[i] === null),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => (numeric[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const out = [table.title, line(table.columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
  if (table.note) out.push(table.note);
  return out.join("\n");
}

/** A baseline drawn flat: `row`'s accuracy at every x in `xs` (e.g. "no demonstrations" across k). */
export function flatSeries(name: string, row: ExperimentRow, xs: readonly number[]): SeriesSpec {
  return {
    name,
    rows: xs.map((x) => ({ ...row, coordinates: { ...row.coordinates, x } })),
    x: (point) => Number(point.coordinates.x),
  };
}

/**
 * Which label a classifier predicts, pooled like the main table: a model that answers one label whatever the
 * prompt scores the share of that class and ignores the demonstrations, which the accuracy alone hides.
 */
export function predictionTable(cells: readonly CellResult[], keys: readonly string[]): ExperimentTable {
  const groups = new Map<string, { coordinates: Coordinates; counts: Record<string, number> }>();
  for (const cell of cells) {
    const counts = cell.extra?.predictions as Record<string, number> | undefined;
    if (!counts) continue;
    const coordinates: Coordinates = {};
    for (const key of keys) if (cell.coordinates[key] !== undefined) coordinates[key] = cell.coordinates[key];
    const id = JSON.stringify(keys.map((key) => coordinates[key] ?? null));
    const group = groups.get(id) ?? { coordinates, counts: {} };
    for (const [label, count] of Object.entries(counts))
      group.counts[label] = (group.counts[label] ?? 0) + count;
    groups.set(id, group);
  }
  return {
    title: "Predicted labels (share of the answers)",
    columns: [...keys, "most predicted", "share", "all predictions"],
    rows: [...groups.values()].map((group) => {
      const entries = Object.entries(group.counts).sort((a, b) => b[1] - a[1]);
      const total = entries.reduce((sum, [, count]) => sum + count, 0);
      const [top, topCount] = entries[0] ?? ["-", 0];
      return [
        ...keys.map((key) => group.coordinates[key] ?? null),
        top,
        percent(total === 0 ? 0 : topCount / total),
        entries.map(([label, count]) => `${label} ${count}`).join(", "),
      ];
    }),
  };
}
