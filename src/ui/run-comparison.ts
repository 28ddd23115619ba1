// Side-by-side comparison of two or more runs: their metrics, and per-example agreement over the examples
// they share (matched by example id, which the results store keys on). An example "differs" when the runs
// gave different final answers or were not all right or all wrong; those are the examples worth reading.

import type { ReportExample, ReportRun } from "../eval/report/report-input.js";
import { UiError } from "./ui-error.js";

export interface ComparedRun {
  id: string;
  kind: ReportRun["kind"];
  model: string;
  task: string;
  approach: string;
  metric?: ReportRun["metric"];
  /** Examples recorded by this run. */
  examples: number;
  /** Shared examples this run got right while at least one other run got wrong. */
  onlyCorrect: number;
}

export interface ExampleVerdict {
  answer: string | null;
  correct: boolean;
}

export interface DifferingExample {
  id: string;
  index: number;
  input: string;
  gold: string;
  /** One verdict per compared run, in the order of `runs`. */
  verdicts: ExampleVerdict[];
}

export interface RunComparison {
  runs: ComparedRun[];
  /** Examples recorded by every run. */
  shared: number;
  /** Shared examples where every run gave the same answer with the same correctness. */
  agreeing: number;
  /** Shared examples where the runs disagree (answer or correctness); `differing.length` may be capped. */
  differingTotal: number;
  differing: DifferingExample[];
  /** Shared examples where every run was right / every run was wrong. */
  allCorrect: number;
  allWrong: number;
}

/** Most differing examples returned (the counts cover all of them). */
export const MAX_DIFFERING = 500;

/** Compares runs given with their examples; needs at least two distinct runs. */
export function compareRuns(
  runs: ReadonlyArray<{ run: ReportRun; examples: readonly ReportExample[] }>,
  maxDiffering = MAX_DIFFERING,
): RunComparison {
  const ids = runs.map((entry) => entry.run.id);
  if (runs.length < 2 || new Set(ids).size !== ids.length) {
    throw new UiError(
      "UI_COMPARE_RUNS",
      `a comparison needs two or more different runs, got [${ids.join(", ")}]: select at least two runs`,
    );
  }
  const byRun = runs.map((entry) => new Map(entry.examples.map((example) => [example.id, example])));
  const first = runs[0] as (typeof runs)[number];
  const sharedIds = first.examples
    .map((example) => example.id)
    .filter((id) => byRun.every((examples) => examples.has(id)));
  const onlyCorrect = runs.map(() => 0);
  const differing: DifferingExample[] = [];
  let differingTotal = 0;
  let allCorrect = 0;
  let allWrong = 0;
  for (const id of sharedIds) {
    const examples = byRun.map((examples) => examples.get(id) as ReportExample);
    const verdicts = examples.map((example) => ({ answer: example.answer, correct: example.correct }));
    const rightCount = verdicts.filter((v) => v.correct).length;
    if (rightCount === verdicts.length) allCorrect++;
    else if (rightCount === 0) allWrong++;
    else
      verdicts.forEach((v, i) => {
        if (v.correct) onlyCorrect[i] = (onlyCorrect[i] ?? 0) + 1;
      });
    const agree = verdicts.every(
      (v) => v.answer === verdicts[0]?.answer && v.correct === verdicts[0]?.correct,
    );
    if (agree) continue;
    differingTotal++;
    if (differing.length < maxDiffering) {
      const reference = examples[0] as ReportExample;
      differing.push({ id, index: reference.index, input: reference.input, gold: reference.gold, verdicts });
    }
  }
  return {
    runs: runs.map((entry, i) => ({
      id: entry.run.id,
      kind: entry.run.kind,
      model: entry.run.model,
      task: entry.run.task,
      approach: entry.run.approach,
      ...(entry.run.metric ? { metric: entry.run.metric } : {}),
      examples: entry.examples.length,
      onlyCorrect: onlyCorrect[i] ?? 0,
    })),
    shared: sharedIds.length,
    agreeing: sharedIds.length - differingTotal,
    differingTotal,
    differing,
    allCorrect,
    allWrong,
  };
}
