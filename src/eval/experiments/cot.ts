// Wei et al. (2022), chain-of-thought prompting: on multi-step arithmetic word problems, exemplars that show
// their reasoning beat exemplars that show only the answer, and the gap grows with the number of steps;
// Kojima et al. (2022): "Let's think step by step" without exemplars recovers part of it. Three conditions on
// the synthetic arithmetic tasks, all run by the prompt runner: direct (the CoT exemplars with their
// rationales removed, so only "The answer is x." remains), few-shot CoT, zero-shot CoT.

import { arithmeticTaskRecords } from "../../tasks/synthetic/arithmetic.js";
import { measurementOf } from "./classification-cell.js";
import { type CellSpec, cellKey, type ExperimentDefinition } from "./experiment.js";
import { answerTask, runPromptCell } from "./prompt-cell.js";
import { poolRows } from "./summary.js";

export const COT_CONDITIONS = ["direct", "cot", "zero-shot-cot"] as const;
/** Exemplars per prompt: three worked problems already fill most of the lab models' 256-token context. */
export const COT_K = 2;
const ANSWER_DATA_SEED = 1234;
/** Extra problems that can only be drawn as exemplars. */
const EXEMPLAR_POOL = 32;

export const ARITHMETIC_TASKS = [
  { digits: 1, steps: 1 },
  { digits: 1, steps: 2 },
  { digits: 2, steps: 2 },
  { digits: 2, steps: 3 },
] as const;

export function arithmeticTaskName(task: { digits: number; steps: number }): string {
  return `arithmetic-d${task.digits}-s${task.steps}`;
}

export const cot: ExperimentDefinition = {
  name: "cot",
  title: "Direct answers vs few-shot CoT vs zero-shot CoT on arithmetic",
  finding:
    "Wei et al. 2022: worked reasoning in the exemplars beats answer-only exemplars on multi-step problems; Kojima et al. 2022: zero-shot 'Let's think step by step' recovers part of the gain.",
  defaults: { full: { seeds: 1, examples: 30 }, quick: { seeds: 1, examples: 4 } },
  plan(settings) {
    const tasks = settings.quick ? ARITHMETIC_TASKS.slice(1, 2) : [...ARITHMETIC_TASKS];
    const model = settings.models[0] as string;
    const cells: CellSpec[] = [];
    for (const task of tasks)
      for (const condition of COT_CONDITIONS)
        for (let seed = 0; seed < (condition === "zero-shot-cot" ? 1 : settings.seeds); seed++) {
          const coordinates = { task: arithmeticTaskName(task), condition, seed };
          cells.push({ key: cellKey(coordinates), coordinates });
        }
    return {
      setup: {
        model,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        data: `synthetic arithmetic word problems (held-out split), data seed ${ANSWER_DATA_SEED}`,
        tasks: tasks.map(arithmeticTaskName),
        conditions: [...COT_CONDITIONS],
        k: COT_K,
        decoding: "greedy",
        seeds: settings.seeds,
        examplesPerCell: settings.examples,
      },
      cells,
    };
  },
  async runCell(cell, context) {
    const { task, condition, seed } = cell.coordinates as { task: string; condition: string; seed: number };
    const difficulty = ARITHMETIC_TASKS.find((t) => arithmeticTaskName(t) === task) ?? ARITHMETIC_TASKS[0];
    let records = arithmeticTaskRecords({
      seed: ANSWER_DATA_SEED,
      count: context.settings.examples + EXEMPLAR_POOL,
      ...difficulty,
    });
    if (condition === "direct") records = records.map((record) => ({ ...record, rationale: "" }));
    const examples = await runPromptCell(context, {
      model: context.settings.models[0] as string,
      taskName: `synthetic:${task}${condition === "direct" ? " (rationales removed)" : ""}`,
      task: answerTask(records),
      limit: context.settings.examples,
      run: {
        strategy: condition === "zero-shot-cot" ? "zero-shot-cot" : "cot",
        k: COT_K,
        seed,
        answerType: "number",
      },
    });
    return { measurements: [measurementOf(examples)] };
  },
  summarize(cells) {
    const rowKeys = ["task", "condition"];
    const rows = poolRows(cells, rowKeys);
    return {
      rows,
      rowKeys,
      chart: {
        kind: "bars",
        title: "Arithmetic accuracy by prompting strategy (95% CI)",
        xLabel: "task (digits, steps)",
        yLabel: "accuracy",
        percent: true,
        bars: rows
          .filter((row) => row.total > 0)
          .map((row) => ({
            category: String(row.coordinates.task),
            group: String(row.coordinates.condition),
            value: row.accuracy,
            low: row.low,
            high: row.high,
          })),
      },
    };
  },
};
