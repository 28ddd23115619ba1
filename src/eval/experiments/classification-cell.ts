// One in-context classification cell: every query gets the prompt its condition builds (with the prompting
// layer's few-shot builder), the model classifies it (prompting/classification.ts: log-likelihood scoring
// where the backend can score), and the record goes to the cell's results store, so an interrupted cell
// resumes at the next example. The record keeps the demonstrations shown (input, label shown, gold label) so
// a reader (and the tests) can check what each condition put in the prompt.

import type { LanguageModel } from "../../lm/language-model.js";
import { type ClassificationMethod, classify } from "../../prompting/classification.js";
import type { LabelledExample } from "../../prompting/example.js";
import type { FewShotPrompt } from "../../prompting/few-shot.js";
import { type ExampleRecord, ResultsStore, type RunSetup } from "../results-store.js";
import { type CellMeasurement, isContextTooLong } from "./experiment.js";

export interface ShownDemonstration {
  id?: string;
  input: string;
  /** The label in the prompt (after perturbation, before verbalisation). */
  shown: string;
  /** The demonstration's true label, where it is known. */
  gold?: string;
}

export interface ClassificationExampleRecord extends ExampleRecord {
  demonstrations: ShownDemonstration[];
}

export interface ClassificationCellOptions {
  lm: LanguageModel;
  dir: string;
  setup: RunSetup;
  queries: readonly LabelledExample[];
  /** The prompt of query `index` (built by buildFewShotPrompt or from its parts). */
  prompt: (query: LabelledExample, index: number) => FewShotPrompt;
  /** Gold labels of demonstrations by id (the perturbed prompt no longer knows them). */
  goldOf?: (id: string | undefined) => string | undefined;
  method?: ClassificationMethod;
  signal?: AbortSignal;
  onExample?: (done: number, total: number, correct: number) => void;
}

/** Runs (or resumes) the cell; returns the records of all queries in order. */
export async function runClassificationCell(
  options: ClassificationCellOptions,
): Promise<ClassificationExampleRecord[]> {
  const store = ResultsStore.open(options.dir, `cell-${options.setup.strategy}`, options.setup);
  const records: ClassificationExampleRecord[] = [];
  let correct = 0;
  for (const [index, query] of options.queries.entries()) {
    const id = query.id ?? String(index);
    let record = store.recorded(id) as ClassificationExampleRecord | undefined;
    if (!record) {
      options.signal?.throwIfAborted();
      const fewShot = options.prompt(query, index);
      let result: Awaited<ReturnType<typeof classify>>;
      try {
        result = await classify(options.lm, fewShot.prompt, fewShot.candidates, {
          ...(options.method ? { method: options.method } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        if (!isContextTooLong(error)) throw error;
        record = {
          ...tooLongRecord(
            index,
            id,
            Object.values(query.fields).join("\n"),
            fewShot.prompt,
            query.label,
            error,
          ),
          demonstrations: [],
        };
        store.append(record);
        records.push(record);
        options.onExample?.(index + 1, options.queries.length, correct);
        continue;
      }
      const predicted = result.label ?? null;
      record = {
        index,
        id,
        input: Object.values(query.fields).join("\n"),
        prompts: [fewShot.prompt],
        outputs: result.generated !== undefined ? [result.generated] : [],
        answers: [predicted],
        answer: predicted,
        gold: query.label,
        correct: predicted === query.label,
        demonstrations: fewShot.demonstrations.map((demo) => {
          const gold = options.goldOf?.(demo.id);
          return {
            ...(demo.id !== undefined ? { id: demo.id } : {}),
            input: Object.values(demo.fields).join("\n"),
            shown: demo.label,
            ...(gold !== undefined ? { gold } : {}),
          };
        }),
      };
      if (result.logprobs) {
        record.candidates = fewShot.candidates.map((candidate) => candidate.continuation);
        record.logprobs = result.logprobs.map((value) => (Number.isFinite(value) ? value : null));
      }
      store.append(record);
    }
    records.push(record);
    if (record.correct) correct++;
    options.onExample?.(index + 1, options.queries.length, correct);
  }
  store.finish({
    name: "accuracy",
    value: records.length === 0 ? 0 : correct / records.length,
    correct,
    total: records.length,
  });
  return records;
}

/** A record whose prompt did not fit the model's context: kept (so a resumed cell does not retry it), not scored. */
export function tooLongRecord(
  index: number,
  id: string,
  input: string,
  prompt: string,
  gold: string,
  error: unknown,
): ExampleRecord & { tooLong: true; error: string } {
  return {
    index,
    id,
    input,
    // the prompt runner does not hand out the prompt it failed on: "" then, and none is recorded
    prompts: prompt === "" ? [] : [prompt],
    outputs: [],
    answers: [],
    answer: null,
    gold,
    correct: false,
    tooLong: true,
    error: (error as Error).message,
  };
}

/** The cell's measurement: correctness of the examples that fit, and how many did not. */
export function measurementOf(
  records: readonly ExampleRecord[],
  coordinates: CellMeasurement["coordinates"] = {},
): CellMeasurement {
  const fitting = records.filter((record) => !(record as { tooLong?: boolean }).tooLong);
  const excluded = records.length - fitting.length;
  return {
    coordinates,
    correct: fitting.map((record) => record.correct),
    ...(excluded > 0 ? { excluded } : {}),
  };
}

/** How often each label was predicted ("none" where no label was found), for the prediction-bias table. */
export function predictionCounts(records: readonly ExampleRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) {
    if ((record as { tooLong?: boolean }).tooLong) continue;
    const label = record.answer ?? "none";
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}
