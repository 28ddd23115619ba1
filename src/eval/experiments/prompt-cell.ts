// One answer-task cell (CoT, zero-shot CoT, least-to-most...) run by the prompt runner itself
// (runPromptEvaluation), in the cell's own results store: the experiment adds nothing to the strategy, and an
// interrupted cell resumes per example like `adaptlm prompt` does.

import type { AnswerTaskRecord } from "../../tasks/synthetic/arithmetic.js";
import {
  defaultRunId,
  type PromptRunOptions,
  type PromptTaskExample,
  promptRunSetupOptions,
  promptTaskFromRecords,
  runPromptEvaluation,
} from "../prompt-run.js";
import { type ExampleRecord, ResultsStore, type RunSetup } from "../results-store.js";
import { tooLongRecord } from "./classification-cell.js";
import { type CellContext, isContextTooLong } from "./experiment.js";

/** Task records as prompt-run examples (text = question, label = answer, rationale and steps kept). */
export function answerTask(records: readonly AnswerTaskRecord[]): PromptTaskExample[] {
  return promptTaskFromRecords(records as unknown as Array<Record<string, unknown>>, {}, "synthetic task");
}

export interface PromptCellOptions {
  model: string;
  /** Recorded as the run's task file, e.g. "synthetic:arithmetic-d2-s2". */
  taskName: string;
  /** The whole task: the first `limit` are evaluated, all of them may be drawn as demonstrations. */
  task: readonly PromptTaskExample[];
  limit: number;
  run: Omit<PromptRunOptions, "limit" | "onProgress" | "signal">;
}

export async function runPromptCell(
  context: CellContext,
  options: PromptCellOptions,
): Promise<ExampleRecord[]> {
  const setup: RunSetup = {
    model: options.model,
    ...(context.settings.endpoint ? { endpoint: context.settings.endpoint } : {}),
    taskFile: options.taskName,
    strategy: options.run.strategy,
    options: { ...promptRunSetupOptions(options.run), limit: options.limit },
    seed: options.run.seed ?? 0,
  };
  const store = ResultsStore.open(context.dir, defaultRunId(setup), setup);
  // The runner stops at an example whose prompt does not fit the model; that example is recorded as too long
  // (left out of the accuracy) and the runner is started again: it skips every recorded example.
  for (;;) {
    let done = 0;
    try {
      await runPromptEvaluation(context.lm(options.model), options.task, store, {
        ...options.run,
        limit: options.limit,
        ...(context.signal ? { signal: context.signal } : {}),
        onProgress: (progress) => {
          done = progress.done;
          context.onExample?.(progress.done, progress.total, progress.correct);
        },
      });
      break;
    } catch (error) {
      const failed = options.task[done];
      if (!isContextTooLong(error) || failed === undefined || store.recorded(failed.id)) throw error;
      store.append(tooLongRecord(failed.index, failed.id, failed.input, "", failed.gold, error));
    }
  }
  return store.examples().slice(0, options.limit);
}
