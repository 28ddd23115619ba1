// Wang et al. (2023), self-consistency: sample N reasoning paths and vote; accuracy rises with the number of
// paths and beats greedy chain of thought. One sampled cell per task and seed draws N paths per problem
// (prompting/self-consistency.ts, the exemplars of few-shot CoT); accuracy at m = 1..N paths is recounted
// from the first m recorded paths, for the majority vote and the probability-weighted vote, so every point
// of the curve comes from the same samples. A greedy CoT cell gives the baseline. The vote distribution
// table relates agreement (the winner's share of the paths) to accuracy.

import { answersMatch } from "../../prompting/answer-extraction.js";
import { type CotExemplar, cotRequest, extractCotAnswer } from "../../prompting/chain-of-thought.js";
import { selectDemonstrations } from "../../prompting/demonstrations.js";
import { aggregateVotes, selfConsistency } from "../../prompting/self-consistency.js";
import { arithmeticTaskRecords } from "../../tasks/synthetic/arithmetic.js";
import { type ExampleRecord, ResultsStore, type RunSetup } from "../results-store.js";
import { measurementOf, tooLongRecord } from "./classification-cell.js";
import { arithmeticTaskName, COT_K } from "./cot.js";
import {
  type CellContext,
  type CellMeasurement,
  type CellSpec,
  cellKey,
  type ExperimentDefinition,
  type ExperimentRow,
  type ExperimentTable,
  isContextTooLong,
} from "./experiment.js";
import { answerTask, runPromptCell } from "./prompt-cell.js";
import { accuracyLineChart, flatSeries, percent, poolRows, rowsWhere } from "./summary.js";

const DATA_SEED = 1234;
const EXEMPLAR_POOL = 32;
export const SC_TEMPERATURE = 0.7;

export interface PathRecord extends ExampleRecord {
  /** exp(mean token logprob) per path (null where the backend gave none). */
  weights: Array<number | null>;
}

/** Majority and weighted answers of the first m paths of every record, scored against gold. */
export function votesAtPrefix(
  records: readonly PathRecord[],
  m: number,
): { majority: boolean[]; weighted: boolean[] } {
  const majority: boolean[] = [];
  const weighted: boolean[] = [];
  for (const record of records) {
    if ((record as { tooLong?: boolean }).tooLong) continue;
    const inputs = record.answers.slice(0, m).map((answer, i) => {
      const weight = record.weights[i];
      return { answer: answer ?? undefined, ...(weight !== null && weight !== undefined ? { weight } : {}) };
    });
    const votes = aggregateVotes(inputs);
    majority.push(answersMatch(votes.majority, record.gold, "number"));
    // without weights the weighted vote falls back to the majority (it cannot be computed)
    weighted.push(answersMatch(votes.weighted ?? votes.majority, record.gold, "number"));
  }
  return { majority, weighted };
}

async function sampledCell(
  context: CellContext,
  task: { digits: number; steps: number },
  seed: number,
  samples: number,
): Promise<PathRecord[]> {
  const model = context.settings.models[0] as string;
  const records = answerTask(
    arithmeticTaskRecords({ seed: DATA_SEED, count: context.settings.examples + EXEMPLAR_POOL, ...task }),
  );
  const setup: RunSetup = {
    model,
    ...(context.settings.endpoint ? { endpoint: context.settings.endpoint } : {}),
    taskFile: `synthetic:${arithmeticTaskName(task)}`,
    strategy: "self-consistency",
    options: { k: COT_K, samples, temperature: SC_TEMPERATURE, limit: context.settings.examples },
    seed,
  };
  const store = ResultsStore.open(context.dir, "self-consistency", setup);
  const lm = context.lm(model);
  const pool = records.map((r) => ({ id: r.id, fields: { input: r.input }, label: r.gold }));
  const out: PathRecord[] = [];
  let correct = 0;
  for (const [index, example] of records.slice(0, context.settings.examples).entries()) {
    let record = store.recorded(example.id) as PathRecord | undefined;
    if (!record) {
      context.signal?.throwIfAborted();
      const exemplars: CotExemplar[] = selectDemonstrations(pool, {
        k: COT_K,
        strategy: "random",
        seed: seed * 1_000_003 + index,
        query: pool[index],
      }).map((demo) => {
        const source = records.find((r) => r.id === demo.id);
        return {
          question: demo.fields.input as string,
          rationale: source?.rationale ?? "",
          answer: demo.label,
        };
      });
      const request = cotRequest(exemplars, example.input, { answerType: "number" });
      let result: Awaited<ReturnType<typeof selfConsistency>>;
      try {
        result = await selfConsistency(
          lm,
          request,
          (text) => extractCotAnswer(text, { answerType: "number" }),
          {
            samples,
            temperature: SC_TEMPERATURE,
            seed: seed * 1_000_003 + index * samples,
            ...(context.signal ? { signal: context.signal } : {}),
          },
        );
      } catch (error) {
        if (!isContextTooLong(error)) throw error;
        const tooLong = {
          ...tooLongRecord(index, example.id, example.input, request.prompt as string, example.gold, error),
          weights: [],
        };
        store.append(tooLong);
        out.push(tooLong);
        continue;
      }
      record = {
        index,
        id: example.id,
        input: example.input,
        prompts: [request.prompt as string],
        outputs: result.paths.map((path) => path.text),
        answers: result.paths.map((path) => path.answer ?? null),
        answer: result.majority ?? null,
        votes: result.votes,
        gold: example.gold,
        correct: answersMatch(result.majority, example.gold, "number"),
        weights: result.paths.map((path) => path.weight ?? null),
      };
      store.append(record);
    }
    out.push(record);
    if (record.correct) correct++;
    context.onExample?.(index + 1, context.settings.examples, correct);
  }
  store.finish({ name: "accuracy", value: correct / Math.max(1, out.length), correct, total: out.length });
  return out;
}

export const selfConsistencyExperiment: ExperimentDefinition = {
  name: "self-consistency",
  title: "Self-consistency: accuracy vs sampled paths, majority vs weighted vote",
  finding:
    "Wang et al. 2023: voting over sampled reasoning paths beats greedy CoT, and accuracy grows with the number of paths; high agreement signals a likely correct answer.",
  defaults: { full: { seeds: 1, examples: 30 }, quick: { seeds: 1, examples: 4 } },
  plan(settings) {
    const samples = settings.quick ? 3 : 10;
    const tasks = settings.quick
      ? [{ digits: 1, steps: 2 }]
      : [
          { digits: 1, steps: 2 },
          { digits: 2, steps: 2 },
        ];
    const cells: CellSpec[] = [];
    for (const task of tasks)
      for (let seed = 0; seed < settings.seeds; seed++)
        for (const condition of ["greedy-cot", "sampled"]) {
          const coordinates = { task: arithmeticTaskName(task), condition, seed };
          cells.push({ key: cellKey(coordinates), coordinates });
        }
    return {
      setup: {
        model: settings.models[0],
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `synthetic arithmetic word problems (held-out split), data seed ${DATA_SEED}`,
        tasks: tasks.map(arithmeticTaskName),
        k: COT_K,
        samples,
        temperature: SC_TEMPERATURE,
        votes: ["majority", "weighted (exp mean token logprob)"],
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
      },
      cells,
    };
  },
  async runCell(cell, context, plan) {
    const { task, condition, seed } = cell.coordinates as { task: string; condition: string; seed: number };
    const [digits, steps] = (/d(\d+)-s(\d+)/.exec(task) ?? []).slice(1).map(Number);
    const difficulty = { digits: digits ?? 1, steps: steps ?? 2 };
    if (condition === "greedy-cot") {
      const examples = await runPromptCell(context, {
        model: context.settings.models[0] as string,
        taskName: `synthetic:${task}`,
        task: answerTask(
          arithmeticTaskRecords({
            seed: DATA_SEED,
            count: context.settings.examples + EXEMPLAR_POOL,
            ...difficulty,
          }),
        ),
        limit: context.settings.examples,
        run: { strategy: "cot", k: COT_K, seed, answerType: "number" },
      });
      return {
        measurements: [measurementOf(examples, { vote: "greedy", samples: 1 })],
      };
    }
    const samples = plan.setup.samples as number;
    const records = await sampledCell(context, difficulty, seed, samples);
    const measurements: CellMeasurement[] = [];
    const tooLong = records.filter((r) => (r as { tooLong?: boolean }).tooLong).length;
    const excluded = tooLong > 0 ? { excluded: tooLong } : {};
    for (let m = 1; m <= samples; m++) {
      const { majority, weighted } = votesAtPrefix(records, m);
      measurements.push({ coordinates: { vote: "majority", samples: m }, correct: majority, ...excluded });
      measurements.push({ coordinates: { vote: "weighted", samples: m }, correct: weighted, ...excluded });
    }
    // agreement: how many of the N paths gave the winning answer, per example
    const agreement = records
      .filter((r) => !(r as { tooLong?: boolean }).tooLong)
      .map((record) => ({
        top: record.votes?.[0]?.count ?? 0,
        correct: record.correct,
      }));
    return { measurements, extra: { agreement } };
  },
  summarize(cells, plan) {
    const rowKeys = ["task", "vote", "samples"];
    const rows = poolRows(cells, rowKeys);
    const pooled = poolRows(cells, ["vote", "samples"]);
    const samples = plan.setup.samples as number;
    const xs = Array.from({ length: samples }, (_, i) => i + 1);
    const greedy = rowsWhere(pooled, { vote: "greedy" })[0];
    const chart = accuracyLineChart(
      "Self-consistency: accuracy vs sampled paths (pooled over tasks)",
      "sampled paths",
      [
        ...["majority", "weighted"].map((vote) => ({
          name: `${vote} vote`,
          rows: rowsWhere(pooled, { vote }),
          x: (row: ExperimentRow) => Number(row.coordinates.samples),
        })),
        ...(greedy ? [flatSeries("greedy CoT", greedy, xs)] : []),
      ],
    );
    const byTop = new Map<number, { n: number; correct: number }>();
    for (const cell of cells) {
      for (const entry of (cell.extra?.agreement as Array<{ top: number; correct: boolean }> | undefined) ??
        []) {
        const bucket = byTop.get(entry.top) ?? { n: 0, correct: 0 };
        bucket.n++;
        if (entry.correct) bucket.correct++;
        byTop.set(entry.top, bucket);
      }
    }
    const distribution: ExperimentTable = {
      title: `Vote distribution: paths (of ${samples}) agreeing with the majority answer`,
      columns: ["agreeing paths", "examples", "majority correct"],
      rows: [...byTop.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([top, bucket]) => [top, bucket.n, percent(bucket.correct / bucket.n)]),
    };
    return { rows, rowKeys, tables: [distribution], chart };
  },
};
