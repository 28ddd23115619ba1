// Zero-shot and instruction prompting across several templates (FLAN/T0 style): classify every example
// under every template and report accuracy per template and its spread, since a single template's accuracy
// says little about the model.

import type { CallOptions, LanguageModel } from "../lm/language-model.js";
import {
  type Candidate,
  type ClassificationMethod,
  type ClassificationResult,
  classify,
} from "./classification.js";
import type { LabelledExample } from "./example.js";
import { buildPrompt, formatTarget, type PromptTemplate } from "./template.js";

export interface TemplateAccuracy {
  template: string;
  accuracy: number;
  /** lm-evaluation-harness acc_norm (equal to accuracy for generation). */
  accuracyNormalised: number;
  predictions: Array<string | undefined>;
}

export interface TemplateSweepResult {
  perTemplate: TemplateAccuracy[];
  mean: number;
  /** Population standard deviation of the per-template accuracies. */
  std: number;
  min: number;
  max: number;
}

export interface TemplateSweepOptions extends CallOptions {
  /** The label set, in a fixed order. */
  labels: readonly string[];
  /** Demonstrations for each example (default none: zero-shot). */
  demonstrationsFor?: (example: LabelledExample, template: PromptTemplate) => LabelledExample[];
  method?: ClassificationMethod;
  onResult?: (template: PromptTemplate, example: LabelledExample, result: ClassificationResult) => void;
}

/** The answer candidates of a template: each label with its verbalised target. */
export function templateCandidates(
  template: PromptTemplate,
  labels: readonly string[],
  verbalizer?: Readonly<Record<string, string>>,
): Candidate[] {
  return labels.map((label) => ({ label, continuation: formatTarget(template, label, verbalizer) }));
}

export function summariseAccuracies(accuracies: readonly number[]): {
  mean: number;
  std: number;
  min: number;
  max: number;
} {
  if (accuracies.length === 0) return { mean: 0, std: 0, min: 0, max: 0 };
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  const variance = accuracies.reduce((sum, value) => sum + (value - mean) ** 2, 0) / accuracies.length;
  return { mean, std: Math.sqrt(variance), min: Math.min(...accuracies), max: Math.max(...accuracies) };
}

export async function evaluateTemplates(
  lm: LanguageModel,
  templates: readonly PromptTemplate[],
  examples: readonly LabelledExample[],
  options: TemplateSweepOptions,
): Promise<TemplateSweepResult> {
  const perTemplate: TemplateAccuracy[] = [];
  for (const template of templates) {
    const candidates = templateCandidates(template, options.labels);
    let correct = 0;
    let correctNormalised = 0;
    const predictions: Array<string | undefined> = [];
    for (const example of examples) {
      const demonstrations = options.demonstrationsFor?.(example, template) ?? [];
      const prompt = buildPrompt(template, demonstrations, example, { labels: options.labels });
      const result = await classify(lm, prompt, candidates, {
        ...(options.method ? { method: options.method } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      options.onResult?.(template, example, result);
      predictions.push(result.label);
      if (result.label === example.label) correct++;
      if (result.labelNormalised === example.label) correctNormalised++;
    }
    const count = Math.max(1, examples.length);
    perTemplate.push({
      template: template.name,
      accuracy: correct / count,
      accuracyNormalised: correctNormalised / count,
      predictions,
    });
  }
  return { perTemplate, ...summariseAccuracies(perTemplate.map((entry) => entry.accuracy)) };
}
