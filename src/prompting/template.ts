// Prompt templates, FLAN/T0 style: a task has several templates, each an input pattern with {{field}}
// placeholders and a target pattern with {{label}} (the verbalised label), plus an optional instruction shown
// once before the demonstrations. `buildPrompt` joins instruction, demonstrations (input + target) and the
// query's input; the query's target is what the model completes (or what `score` ranks).
//
// Template syntax: `{{name}}` (spaces inside the braces allowed) is replaced by the value of `name`; a name
// with no value is an error that lists the names available; `\{{` writes a literal `{{`.

import { AdaptlmError } from "../errors.js";
import type { LabelledExample } from "./example.js";

export class TemplateError extends AdaptlmError {
  constructor(message: string) {
    super("PROMPT_TEMPLATE", message);
  }
}

const PLACEHOLDER = /\\\{\{|\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/** Replaces each {{name}} with values[name]. */
export function renderTemplate(source: string, values: Readonly<Record<string, string>>): string {
  return source.replace(PLACEHOLDER, (_match, name: string | undefined) => {
    if (name === undefined) return "{{";
    const value = values[name];
    if (value === undefined) {
      throw new TemplateError(
        `template ${JSON.stringify(source.length > 60 ? `${source.slice(0, 60)}...` : source)} uses {{${name}}} ` +
          `but only [${Object.keys(values).join(", ")}] are given: rename the placeholder or add the field`,
      );
    }
    return value;
  });
}

/** The placeholder names a template uses, in order of first use. */
export function templateFields(source: string): string[] {
  const names: string[] = [];
  for (const match of source.matchAll(PLACEHOLDER)) {
    if (match[1] !== undefined && !names.includes(match[1])) names.push(match[1]);
  }
  return names;
}

export interface PromptTemplate {
  /** Name for reports, e.g. "imdb/review-is-positive". */
  name: string;
  /** Shown once before everything else; may use {{choices}} (the verbalised labels joined by ", "). */
  instruction?: string;
  /** The input part with {{field}} placeholders, e.g. "Review: {{text}}\nSentiment:". */
  input: string;
  /** The answer part with {{label}}, e.g. " {{label}}". Default " {{label}}". */
  target?: string;
  /** Label -> words; labels not listed are shown as they are. */
  verbalizer?: Readonly<Record<string, string>>;
  /** Between instruction, demonstrations and query. Default "\n\n". */
  separator?: string;
}

/** The words for a label under the template's verbaliser (or an override). */
export function verbalize(template: PromptTemplate, label: string, verbalizer = template.verbalizer): string {
  return verbalizer?.[label] ?? label;
}

/** The rendered input part of an example (no answer). */
export function formatInput(
  template: PromptTemplate,
  example: LabelledExample,
  labels: readonly string[] = [],
): string {
  return renderTemplate(template.input, { ...choiceValues(template, labels), ...example.fields });
}

/** The rendered answer part for a label, e.g. " positive". */
export function formatTarget(
  template: PromptTemplate,
  label: string,
  verbalizer: Readonly<Record<string, string>> | undefined = template.verbalizer,
): string {
  return renderTemplate(template.target ?? " {{label}}", { label: verbalize(template, label, verbalizer) });
}

function choiceValues(template: PromptTemplate, labels: readonly string[]): Record<string, string> {
  return { choices: labels.map((label) => verbalize(template, label)).join(", ") };
}

export interface BuildPromptOptions {
  /** The label set, for {{choices}}. */
  labels?: readonly string[];
  /** Overrides the template's verbaliser for demonstrations (e.g. unrelated labels foo/bar). */
  verbalizer?: Readonly<Record<string, string>>;
}

/**
 * instruction + separator + (demo input + demo target) for each demo + separator + query input. The
 * returned prompt ends where the query's target begins.
 */
export function buildPrompt(
  template: PromptTemplate,
  demonstrations: readonly LabelledExample[],
  query: LabelledExample,
  options: BuildPromptOptions = {},
): string {
  const labels = options.labels ?? [];
  const verbalizer = options.verbalizer ?? template.verbalizer;
  const labelWords = { choices: labels.map((label) => verbalize(template, label, verbalizer)).join(", ") };
  const parts: string[] = [];
  if (template.instruction !== undefined) parts.push(renderTemplate(template.instruction, labelWords));
  for (const demo of demonstrations) {
    parts.push(
      renderTemplate(template.input, { ...labelWords, ...demo.fields }) +
        formatTarget(template, demo.label, verbalizer),
    );
  }
  parts.push(renderTemplate(template.input, { ...labelWords, ...query.fields }));
  return parts.join(template.separator ?? "\n\n");
}
