// The data of the in-context classification experiments: the synthetic lecture tasks the lab models were
// pretrained on (src/tasks/synthetic), one file's worth per task and domain, split into the evaluated queries
// (the first `examples` records) and a disjoint demonstration pool (the rest), so no query is ever shown as a
// demonstration and the pool is the same for every condition.

import type { LabelledExample } from "../../prompting/example.js";
import {
  classificationFamily,
  classificationTaskRecords,
} from "../../tasks/synthetic/arbitrary-label-classification.js";
import { CLASSIFICATION_TEMPLATE } from "../prompt-run.js";

/** The task files the classification experiments use: the first domain of each family, its first two classes. */
export const CLASSIFICATION_TASKS = ["sentiment", "topic", "parity", "repetition"] as const;

/** Demonstrations are drawn from this many records per task (k is at most 16). */
export const DEMONSTRATION_POOL = 64;

/** The data seed: the evaluation files of `adaptlm pretrain` use the same generator. */
export const DATA_SEED = 1234;

/** The prompt format the lab models saw in pretraining ("Possible labels: ...", "Input: ...\nLabel: x"). */
export const EXPERIMENT_CLASSIFICATION_TEMPLATE = CLASSIFICATION_TEMPLATE;

export interface ClassificationSplit {
  task: string;
  domain: string;
  /** Semantic labels, in a fixed order (the order of perturbation and {{choices}}). */
  labels: string[];
  queries: LabelledExample[];
  pool: LabelledExample[];
  /** Gold label of every record by id. */
  gold: Map<string, string>;
}

/** Domains of a task, in their fixed order (the first is the "in-domain" one). */
export function taskDomains(task: string): string[] {
  return Object.keys(classificationFamily(task).domains);
}

export function classificationSplit(
  task: string,
  options: { examples: number; domain?: string; seed?: number },
): ClassificationSplit {
  const domain = options.domain ?? (taskDomains(task)[0] as string);
  const records = classificationTaskRecords(task, domain, {
    seed: options.seed ?? DATA_SEED,
    count: options.examples + DEMONSTRATION_POOL,
  });
  const labels = classificationFamily(task).labels.slice(0, 2);
  const examples: LabelledExample[] = records.map((record) => ({
    id: record.id,
    fields: { input: record.text },
    label: record.label,
  }));
  return {
    task,
    domain,
    labels: [...labels],
    queries: examples.slice(0, options.examples),
    pool: examples.slice(options.examples),
    gold: new Map(examples.map((example) => [example.id as string, example.label])),
  };
}

/** The demonstration seed of query `index` in a cell with seed `seed` (distinct per query and per seed). */
export function demonstrationSeed(seed: number, index: number): number {
  return seed * 1_000_003 + index * 8;
}
