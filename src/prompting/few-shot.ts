// In-context learning in one call: select k demonstrations for a query, order them, perturb their labels or
// inputs for an experiment, and build the prompt with the matching answer candidates. The candidates use the
// same verbaliser as the demonstrations, so with "unrelated" labels the model must answer foo/bar.

import type { CallOptions, LanguageModel } from "../lm/language-model.js";
import {
  type Candidate,
  type ClassificationMethod,
  type ClassificationResult,
  classify,
} from "./classification.js";
import {
  type DemonstrationOrder,
  type LabelPerturbation,
  orderDemonstrations,
  perturbLabels,
  replaceDemonstrationInputs,
  type SelectionStrategy,
  selectDemonstrations,
} from "./demonstrations.js";
import type { LabelledExample } from "./example.js";
import { buildPrompt, formatTarget, type PromptTemplate } from "./template.js";

export interface FewShotOptions {
  /** The label set, in a fixed order. */
  labels: readonly string[];
  /** Number of demonstrations (0 = zero-shot). */
  k: number;
  /** Default "random". */
  selection?: SelectionStrategy;
  /** For "fixed" selection. */
  ids?: readonly string[];
  /** Default "as-selected". */
  order?: DemonstrationOrder;
  /** Default "gold". */
  labelPerturbation?: LabelPerturbation;
  unrelatedLabels?: readonly string[];
  /** Replace the demonstrations' `field` with texts from another domain. */
  outOfDomain?: { texts: readonly string[]; field: string };
  /** One seed for selection, ordering and perturbation; vary it per query (e.g. seed + query index) for varied demos. */
  seed?: number;
}

export interface FewShotPrompt {
  prompt: string;
  demonstrations: LabelledExample[];
  candidates: Candidate[];
  /** The verbaliser in force (the template's, or the unrelated-label one). */
  verbalizer: Readonly<Record<string, string>> | undefined;
}

export function buildFewShotPrompt(
  template: PromptTemplate,
  pool: readonly LabelledExample[],
  query: LabelledExample,
  options: FewShotOptions,
): FewShotPrompt {
  const seed = options.seed ?? 0;
  let demonstrations =
    options.k === 0
      ? []
      : selectDemonstrations(pool, {
          k: options.k,
          strategy: options.selection ?? "random",
          seed,
          query,
          ...(options.ids ? { ids: options.ids } : {}),
        });
  demonstrations = orderDemonstrations(demonstrations, options.order ?? "as-selected", seed + 1);
  const perturbed = perturbLabels(demonstrations, options.labelPerturbation ?? "gold", {
    labels: options.labels,
    seed: seed + 2,
    ...(options.unrelatedLabels ? { unrelatedLabels: options.unrelatedLabels } : {}),
  });
  demonstrations = perturbed.demonstrations;
  if (options.outOfDomain) {
    demonstrations = replaceDemonstrationInputs(demonstrations, options.outOfDomain.texts, {
      field: options.outOfDomain.field,
      seed: seed + 3,
    });
  }
  const verbalizer = perturbed.verbalizer ?? template.verbalizer;
  return {
    prompt: buildPrompt(template, demonstrations, query, {
      labels: options.labels,
      ...(verbalizer ? { verbalizer } : {}),
    }),
    demonstrations,
    candidates: options.labels.map((label) => ({
      label,
      continuation: formatTarget(template, label, verbalizer),
    })),
    verbalizer,
  };
}

/** Builds the few-shot prompt for `query` and classifies it. */
export async function classifyFewShot(
  lm: LanguageModel,
  template: PromptTemplate,
  pool: readonly LabelledExample[],
  query: LabelledExample,
  options: FewShotOptions & CallOptions & { method?: ClassificationMethod },
): Promise<FewShotPrompt & { result: ClassificationResult }> {
  const fewShot = buildFewShotPrompt(template, pool, query, options);
  const result = await classify(lm, fewShot.prompt, fewShot.candidates, {
    ...(options.method ? { method: options.method } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { ...fewShot, result };
}
