// Instruction data in the manner of FLAN (Wei et al. 2022) and T0 (Sanh et al. 2022), in miniature: each task
// dataset is rendered through several natural-language templates (different phrasings, the instruction
// before or after the input, the answer options listed or not, different answer prefixes), and tasks are
// grouped into clusters so that whole clusters can be held out of tuning and evaluated zero-shot.
//
// Every task has TEMPLATES_PER_TASK (10) templates, as FLAN wrote for most of its datasets. The first
// TUNING_TEMPLATES of them are the ones tuning uses; the rest are never seen in tuning, so a held-out cluster
// is evaluated on phrasings that no tuned task was shown either.
//
// Splits: the synthetic classification tasks draw train and test records from independent seeds and drop
// test inputs that occur in the training records; arithmetic and last-letter use their own content-hashed
// "train" / "held-out" splits; the SpamAssassin mails use the stratified seeded split of spam-assassin.ts.

import { AdaptlmError } from "../errors.js";
import { createRng, randomIndex, shuffled } from "../prompting/random.js";
import { loadSpamAssassin, type SpamAssassinMail, splitSpamAssassin } from "../tasks/spam-assassin.js";
import {
  classificationFamily,
  classificationTaskRecords,
} from "../tasks/synthetic/arbitrary-label-classification.js";
import { arithmeticTaskRecords } from "../tasks/synthetic/arithmetic.js";
import { deriveSeed } from "../tasks/synthetic/format.js";
import { lastLetterTaskRecords } from "../tasks/synthetic/last-letter.js";

/** Codes: UNKNOWN_CLUSTER, BAD_OPTION, OVERLAPPING_CLUSTERS. */
export class InstructionDataError extends AdaptlmError {}

export const CLUSTER_NAMES = ["sentiment", "topic", "form", "arithmetic", "last-letter", "spam"] as const;
export type ClusterName = (typeof CLUSTER_NAMES)[number];

export const TEMPLATES_PER_TASK = 10;
/** Templates 0..TUNING_TEMPLATES-1 are used in tuning; the others stay unseen. */
export const TUNING_TEMPLATES = 7;

/** How an answer is scored: ranking the options by log-likelihood, or exact match of the generated text. */
export type AnswerKind = "classification" | "generation";

export interface InstructionTemplate {
  /** `<task>/<index>`. */
  id: string;
  index: number;
  /** The prompt; {input} and {options} are filled in. */
  prompt: string;
  /** The target before the EOS token; {answer} is filled in. */
  target: string;
}

export interface InstructionTask {
  name: string;
  cluster: ClusterName;
  kind: AnswerKind;
  /** The answer options of a classification task, in a fixed order. */
  options: readonly string[];
  templates: readonly InstructionTemplate[];
}

export interface InstructionExample {
  task: string;
  cluster: ClusterName;
  kind: AnswerKind;
  templateId: string;
  templateIndex: number;
  /** The record's input text (before templating). */
  input: string;
  /** The gold answer (an option of a classification task). */
  answer: string;
  /** The rendered prompt. */
  prompt: string;
  /** The rendered target (answer text; the EOS token is appended when tokenized). */
  target: string;
  /** Classification: the rendered targets of every option, in task order (the gold one among them). */
  optionTargets: string[];
}

interface TaskText {
  /** Instruction phrasings, asking for the answer; the templates cycle through them. */
  questions: readonly string[];
  /** What the input is called ("review", "number", "list of words", "e-mail"). */
  noun: string;
}

const TASK_TEXTS: Readonly<Record<string, TaskText>> = {
  sentiment: {
    noun: "review",
    questions: [
      "Is the sentiment of this review positive or negative?",
      "Did the writer like it or not? Answer with the sentiment.",
      "What is the sentiment of the text?",
      "Does this text express a positive or a negative opinion?",
      "How does the writer feel about it: positive or negative?",
    ],
  },
  topic: {
    noun: "text",
    questions: [
      "What is the topic of this text?",
      "Which category do the things mentioned belong to?",
      "What kind of things does the text talk about?",
      "Classify the text by its subject.",
      "Name the category of the words in the text.",
    ],
  },
  parity: {
    noun: "text",
    questions: [
      "Is the number even or odd?",
      "Is the number in the text odd or even?",
      "Tell whether the number can be divided by two.",
      "What is the parity of the number?",
      "Decide if the number is even or odd.",
    ],
  },
  repetition: {
    noun: "list",
    questions: [
      "Does an item occur twice in this list, or are all items distinct?",
      "Is any element of the list repeated?",
      "Are the items of the list all different?",
      "Check the list for a repeated item.",
      "Tell whether the list contains a duplicate.",
    ],
  },
  arithmetic: {
    noun: "problem",
    questions: [
      "Solve the word problem and give the number.",
      "Answer the question with a number.",
      "Work out the answer to this problem.",
      "What is the answer? Give only the number.",
      "Compute the result.",
    ],
  },
  "last-letter": {
    noun: "request",
    questions: [
      "Do as the request says and write the letters.",
      "Give the answer to the request.",
      "Follow the instruction and give only the result.",
      "What is the result of the request?",
      "Answer with the letters only.",
    ],
  },
  spam: {
    noun: "mail",
    questions: [
      "Is this e-mail spam or ham (a normal mail)?",
      "Would a spam filter flag this message? Answer spam or ham.",
      "Is the message unsolicited bulk mail (spam) or a legitimate mail (ham)?",
      "Classify the e-mail as spam or ham.",
      "Is this spam?",
    ],
  },
};

/**
 * Ten template shapes, as FLAN's: instruction first or last, options as a list, inline or absent, and the
 * answer introduced by different prefixes. {q} is the task's question, {noun} its input's name.
 */
const TEMPLATE_SHAPES: readonly { prompt: string; target: string; questionOffset: number }[] = [
  { prompt: "{input}\n\n{q}\n{optionsList}Answer:", target: " {answer}", questionOffset: 0 },
  { prompt: "{q}\n\n{input}\n{optionsInline}Answer:", target: " {answer}", questionOffset: 1 },
  { prompt: "{Noun}: {input}\n{q}\nA:", target: " {answer}", questionOffset: 2 },
  {
    prompt: "Read the {noun} and answer.\n{input}\n{q}\n{optionsList}Output:",
    target: " {answer}",
    questionOffset: 3,
  },
  { prompt: "Q: {q}\n{Noun}: {input}\n{optionsInline}A:", target: " {answer}", questionOffset: 4 },
  { prompt: "{input}\n{optionsInline}{q}", target: " {answer}", questionOffset: 0 },
  {
    prompt: "Instruction: {q}\nInput: {input}\n{optionsList}Response:",
    target: " {answer}",
    questionOffset: 1,
  },
  {
    prompt: "Here is a {noun}:\n{input}\n\n{q}\n{optionsInline}The answer is",
    target: " {answer}",
    questionOffset: 2,
  },
  { prompt: "{q} {optionsInline}\n\n{Noun}: {input}\nAnswer:", target: " {answer}", questionOffset: 3 },
  { prompt: "Question: {q}\nText: {input}\n{optionsList}Answer:", target: " {answer}", questionOffset: 4 },
];

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function templatesFor(task: string): InstructionTemplate[] {
  const text = TASK_TEXTS[task];
  return TEMPLATE_SHAPES.map((shape, index) => {
    const q = text.questions[(index + shape.questionOffset) % text.questions.length];
    const prompt = shape.prompt
      .replaceAll("{q}", q)
      .replaceAll("{Noun}", capitalise(text.noun))
      .replaceAll("{noun}", text.noun);
    return { id: `${task}/${index}`, index, prompt, target: shape.target };
  });
}

const CLASSIFICATION_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  sentiment: ["positive", "negative"],
  topic: classificationFamily("topic").labels,
  parity: ["even", "odd"],
  repetition: ["repeated", "distinct"],
  spam: ["ham", "spam"],
};

const TASK_CLUSTERS: ReadonlyArray<[string, ClusterName]> = [
  ["sentiment", "sentiment"],
  ["topic", "topic"],
  ["parity", "form"],
  ["repetition", "form"],
  ["arithmetic", "arithmetic"],
  ["last-letter", "last-letter"],
  ["spam", "spam"],
];

/** Every task, with its cluster, answer options and ten templates. */
export const INSTRUCTION_TASKS: readonly InstructionTask[] = TASK_CLUSTERS.map(([name, cluster]) => {
  const options = CLASSIFICATION_OPTIONS[name] ?? [];
  return {
    name,
    cluster,
    kind: options.length > 0 ? "classification" : "generation",
    options,
    templates: templatesFor(name),
  };
});

export function isClusterName(name: string): name is ClusterName {
  return (CLUSTER_NAMES as readonly string[]).includes(name);
}

/** Checks cluster names (typed error naming the known ones). */
export function parseClusters(names: readonly string[]): ClusterName[] {
  const out: ClusterName[] = [];
  for (const name of names) {
    if (!isClusterName(name)) {
      throw new InstructionDataError(
        "UNKNOWN_CLUSTER",
        `unknown task cluster "${name}": use ${CLUSTER_NAMES.join(", ")}`,
      );
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

export function tasksOfCluster(cluster: ClusterName): InstructionTask[] {
  return INSTRUCTION_TASKS.filter((task) => task.cluster === cluster);
}

/** The prompt and target of one record through one template. */
export function renderTemplate(
  template: InstructionTemplate,
  task: InstructionTask,
  input: string,
  answer: string,
): { prompt: string; target: string } {
  const options = task.options;
  const listed = options.length > 0 ? `OPTIONS:\n${options.map((o) => `- ${o}`).join("\n")}\n` : "";
  const inline = options.length > 0 ? `Options: ${options.join(", ")}.\n` : "";
  let prompt = template.prompt
    .replaceAll("{optionsList}", listed)
    .replaceAll(
      "{optionsInline}",
      template.prompt.includes("{optionsInline}\n\n") ? inline.trimEnd() : inline,
    )
    .replaceAll("{input}", input);
  // a shape whose options sit mid-line leaves a stray space when the task has none
  prompt = prompt.replace(/ +\n/g, "\n");
  return { prompt, target: template.target.replaceAll("{answer}", answer) };
}

export type DataSplit = "train" | "test";

export interface InstructionDataOptions {
  clusters: readonly ClusterName[];
  split: DataSplit;
  /** Records per task. */
  examplesPerTask: number;
  seed: number;
  /**
   * Template indices to render: each record gets one of them, drawn with the seed ("sample"), or every
   * record is rendered through each of them ("all", for evaluation). Default: the tuning templates, sampled.
   */
  templates?: readonly number[];
  mode?: "sample" | "all";
  /** Characters of a mail kept for the spam task (default 240, so a prompt fits a 256-token context). */
  spamChars?: number;
  /** Test split: leave out inputs of the first N training records per task (the tuning data). Default 1000. */
  trainingCount?: number;
}

interface TaskRecord {
  input: string;
  answer: string;
}

/** The seeded records of one task and split (no templating). */
export function taskRecords(
  task: InstructionTask,
  split: DataSplit,
  count: number,
  seed: number,
  spamChars = 240,
  trainingCount = 1000,
): TaskRecord[] {
  if (!Number.isInteger(count) || count < 1) {
    throw new InstructionDataError(
      "BAD_OPTION",
      `examples per task must be a positive integer, got ${count}`,
    );
  }
  if (task.name === "arithmetic") {
    // half one-digit, half two-digit one-step problems: small enough for a lab model to solve sometimes
    const half = Math.ceil(count / 2);
    const records = [
      ...arithmeticTaskRecords({
        seed,
        count: half,
        digits: 1,
        steps: 1,
        split: split === "train" ? "train" : "held-out",
      }),
      ...arithmeticTaskRecords({
        seed,
        count: count - half || 1,
        digits: 2,
        steps: 1,
        split: split === "train" ? "train" : "held-out",
      }),
    ].slice(0, count);
    return shuffled(
      records.map((r) => ({ input: r.text, answer: r.label })),
      createRng(deriveSeed(seed, "arith-order", split)),
    );
  }
  if (task.name === "last-letter") {
    return lastLetterTaskRecords({ seed, count, n: 2, split: split === "train" ? "train" : "held-out" }).map(
      (r) => ({
        input: r.text,
        answer: r.label,
      }),
    );
  }
  if (task.name === "spam") return spamRecords(split, count, seed, spamChars);
  const labels = task.options;
  const recordsOf = (which: DataSplit, n: number) => {
    const splitSeed = deriveSeed(seed, "instruction", which);
    const family = classificationFamily(task.name);
    const domains = Object.keys(family.domains);
    // both input domains, alternating, so a task is not one surface form
    const perDomain = domains.map(
      (_, d) => Math.floor(n / domains.length) + (d < n % domains.length ? 1 : 0),
    );
    const out: TaskRecord[] = [];
    domains.forEach((domain, d) => {
      if (perDomain[d] === 0) return;
      for (const r of classificationTaskRecords(task.name, domain, {
        seed: splitSeed,
        count: perDomain[d],
        labels,
      }))
        out.push({ input: r.text, answer: r.label });
    });
    return shuffled(out, createRng(deriveSeed(splitSeed, task.name, "order")));
  };
  if (split === "train") return recordsOf("train", count);
  // test inputs that also occur in the training records (e.g. a short number) are dropped and replaced by
  // more draws; the training records are those of a run with trainingCount records per task
  const trainInputs = new Set(recordsOf("train", trainingCount).map((r) => r.input));
  const test: TaskRecord[] = [];
  for (let size = count; test.length < count && size <= count * 8; size *= 2) {
    test.length = 0;
    for (const r of recordsOf("test", size))
      if (!trainInputs.has(r.input) && test.length < count) test.push(r);
  }
  return test;
}

let spamCache: { chars: number; mails: SpamAssassinMail[] } | null = null;

function spamRecords(split: DataSplit, count: number, seed: number, chars: number): TaskRecord[] {
  if (spamCache?.chars !== chars) spamCache = { chars, mails: loadSpamAssassin({ maxChars: chars }) };
  const splits = splitSpamAssassin(spamCache.mails, { seed, maxChars: chars });
  const pool = split === "train" ? splits.train : splits.test;
  // balanced: count/2 of each class, in the split's (seeded, interleaved) order
  const out: TaskRecord[] = [];
  const wanted = { ham: Math.ceil(count / 2), spam: Math.floor(count / 2) };
  for (const mail of pool) {
    if (wanted[mail.label] > 0) {
      wanted[mail.label]--;
      out.push({ input: mail.text, answer: mail.label });
    }
    if (out.length === count) break;
  }
  return out;
}

/** Instruction examples of the given clusters: records rendered through templates. */
export function instructionExamples(options: InstructionDataOptions): InstructionExample[] {
  const templates = options.templates ?? Array.from({ length: TUNING_TEMPLATES }, (_, i) => i);
  for (const index of templates) {
    if (!Number.isInteger(index) || index < 0 || index >= TEMPLATES_PER_TASK) {
      throw new InstructionDataError(
        "BAD_OPTION",
        `template index ${index} is out of range: every task has templates 0..${TEMPLATES_PER_TASK - 1}`,
      );
    }
  }
  if (templates.length === 0) throw new InstructionDataError("BAD_OPTION", "no templates given");
  const mode = options.mode ?? "sample";
  const out: InstructionExample[] = [];
  for (const cluster of options.clusters) {
    for (const task of tasksOfCluster(cluster)) {
      const records = taskRecords(
        task,
        options.split,
        options.examplesPerTask,
        options.seed,
        options.spamChars,
      );
      const rng = createRng(deriveSeed(options.seed, "templates", task.name, options.split));
      records.forEach((record) => {
        const chosen = mode === "all" ? templates : [templates[randomIndex(rng, templates.length)]];
        for (const index of chosen) {
          const template = task.templates[index];
          const { prompt, target } = renderTemplate(template, task, record.input, record.answer);
          out.push({
            task: task.name,
            cluster,
            kind: task.kind,
            templateId: template.id,
            templateIndex: index,
            input: record.input,
            answer: record.answer,
            prompt,
            target,
            optionTargets: task.options.map((o) => renderTemplate(template, task, record.input, o).target),
          });
        }
      });
    }
  }
  return out;
}

/** A seeded shuffle of examples (so batches mix tasks and clusters). */
export function shuffleExamples<T>(examples: readonly T[], seed: number): T[] {
  return shuffled(examples, createRng(deriveSeed(seed, "instruction-shuffle")));
}
