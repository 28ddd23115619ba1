// `adaptlm ape <model|url> --task FILE`: automatic prompt engineering (src/prompting/ape.ts) over a task file:
// the task's pairs are split (seeded) into demonstrations to induce instructions from and dev pairs to score
// them on; the candidates with their scores, the best instruction and what the search cost (LM calls and
// tokens actually sent, cache hits excluded) go to --out as JSON and to a table. Parsing and rendering only.
// The helpers for the model target, the task's pairs and the cost summary are shared with `rl-prompt`.

import { parseArgs } from "node:util";
import { writeFileAtomic } from "../../io/atomic-file.js";
import { localEngineFactory } from "../../lm/local-engine.js";
import { SERVER_CAPABILITIES, type ServerKind } from "../../lm/openai-compatible.js";
import { buildLanguageModelStack, type LanguageModelStack } from "../../lm/stack.js";
import type { UsageSnapshot } from "../../lm/usage-meter.js";
import {
  type ApeOptions,
  type IoPair,
  type ScoredInstruction,
  searchInstructions,
} from "../../prompting/ape.js";
import { createRng, shuffled } from "../../prompting/random.js";
import { templateFields } from "../../prompting/template.js";
import { type DataRecord, readRecords } from "../../train/dataset.js";
import type { CliCommand } from "../command.js";
import { CliUsageError, numberOption } from "./pull.js";

/** Options every search command takes for its model and task. */
export const SEARCH_TARGET_OPTIONS = {
  endpoint: { type: "string" },
  model: { type: "string" },
  server: { type: "string" },
  tokenizer: { type: "string" },
  cache: { type: "string" },
  task: { type: "string" },
  "input-field": { type: "string" },
  "label-field": { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
} as const;

export const SEARCH_TARGET_HELP = `  --task FILE            the task file: .jsonl, .json, .csv or .tsv (required)
  --input-field NAME     field holding the input (default text)
  --label-field NAME     field holding the gold output or label (default label)
  --seed N               seed for the split and every sample (default 0)
  --out FILE             write the result as JSON (atomically)
  --endpoint URL         an OpenAI-compatible server (http://host:port/v1) instead of <model>
  --model NAME           model name sent to the server (required with a URL)
  --server KIND          server preset: ${Object.keys(SERVER_CAPABILITIES).join("|")} (default generic)
  --tokenizer PATH       tokenizer for a local llama2.c .bin
  --cache FILE           SQLite response cache (hits are not counted as cost)

<model>: a local model (folder, llama2.c .bin, hub id), an OpenAI-compatible server URL, or
"replay:<file.jsonl>". The cost reported is what reached the model: LM calls and tokens.`;

export interface SearchTarget {
  /** The model as given: a path, hub id, URL or replay file. */
  target: string;
  model: string;
  endpoint?: string;
  stack: LanguageModelStack;
}

/** The model to search with: the positional <model> or --endpoint URL --model NAME, as a metered stack. */
export function searchTarget(
  command: string,
  positionals: readonly string[],
  values: { endpoint?: string; model?: string; server?: string; tokenizer?: string; cache?: string },
): SearchTarget {
  if (positionals.length > 1)
    throw new CliUsageError(
      `${command} takes at most one <model>, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  if (positionals.length === 1 && values.endpoint !== undefined)
    throw new CliUsageError(`${command}: give either <model> or --endpoint URL, not both`);
  const target = values.endpoint ?? positionals[0];
  if (target === undefined)
    throw new CliUsageError(
      `${command} needs a <model> (folder, .bin, hub id) or --endpoint URL --model NAME`,
    );
  const isUrl = /^https?:\/\//.test(target);
  if (values.endpoint !== undefined && !isUrl)
    throw new CliUsageError(
      `--endpoint must be an http(s) URL such as http://127.0.0.1:8000/v1, got "${target}"`,
    );
  if (isUrl && !values.model) throw new CliUsageError(`${command}: a server URL needs --model NAME`);
  let server: ServerKind | undefined;
  if (values.server !== undefined) {
    if (!(values.server in SERVER_CAPABILITIES))
      throw new CliUsageError(
        `--server must be one of ${Object.keys(SERVER_CAPABILITIES).join(", ")}, got "${values.server}"`,
      );
    server = values.server as ServerKind;
  }
  const stack = buildLanguageModelStack({
    target,
    ...(values.model ? { model: values.model } : {}),
    ...(server ? { http: { server } } : {}),
    ...(values.cache ? { cachePath: values.cache } : {}),
    localFactory: localEngineFactory(values.tokenizer ? { tokenizer: values.tokenizer } : {}),
  });
  return {
    target,
    model: isUrl ? (values.model ?? "") : (values.model ?? target),
    ...(isUrl ? { endpoint: target } : {}),
    stack,
  };
}

/** The task file's records, each with its input and label fields present (checked with the record's index). */
export function readTaskRecords(
  path: string | undefined,
  command: string,
  inputField: string,
  labelField: string,
): DataRecord[] {
  if (path === undefined)
    throw new CliUsageError(`${command} needs --task FILE (a .jsonl, .json, .csv or .tsv file)`);
  const records = readRecords(path);
  if (records.length === 0) throw new CliUsageError(`${path} holds no records`);
  records.forEach((record, index) => {
    for (const name of [inputField, labelField]) {
      if (record[name] === undefined || record[name] === null)
        throw new CliUsageError(
          `${path}: record ${index} has no field "${name}" (fields: ${Object.keys(record).join(", ")}): choose the fields with --input-field / --label-field`,
        );
    }
  });
  return records;
}

export interface SearchCost {
  /** Requests that reached the model (a request with n samples on a backend with `n` is one call). */
  lmCalls: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** At the configured prices (0 without prices). */
  cost: number;
}

export function searchCost(snapshot: UsageSnapshot): SearchCost {
  return {
    lmCalls: snapshot.requests,
    promptTokens: snapshot.promptTokens,
    completionTokens: snapshot.completionTokens,
    totalTokens: snapshot.promptTokens + snapshot.completionTokens,
    cost: snapshot.cost,
  };
}

export function costLine(cost: SearchCost): string {
  return `cost: ${cost.lmCalls} LM calls, ${cost.promptTokens} prompt + ${cost.completionTokens} completion tokens (${cost.totalTokens} total)`;
}

/** Left-aligned text columns, right-aligned numeric ones; the header underlined. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: readonly number[],
): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c].length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, c) => (numeric.includes(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export const apeHelp = `adaptlm ape <model> --task FILE [options]

Automatic prompt engineering (Zhou et al., 2023): induces candidate instructions from input-output
demonstrations ("I gave a friend an instruction ..."), scores each on held-out dev pairs
(execution accuracy or mean log-likelihood of the gold outputs), optionally resamples variants of
the best, and prints the candidates by score, the best instruction and the cost. The task's
records are shuffled with --seed and split: the first --demos are demonstrations, the rest dev.

Options:
${SEARCH_TARGET_HELP}
  --demos N              records used as demonstrations (default half of the task, at least 1)
  --dev N                dev pairs to score on (default all the rest)
  --subsets N            demonstration subsets to induce from (default 2)
  --pairs-per-subset N   pairs shown per induction (default 5)
  --candidates N         instructions sampled per subset (default 4)
  --temperature T        induction temperature (default 0.9)
  --scoring S            execution|likelihood (default execution; likelihood needs score)
  --resample-rounds N    rounds of variants around the best (default 0)
  --variants N           variants per round (default 4)
  --max-instruction-tokens N   (default 64)
  --max-output-tokens N  tokens per dev answer under execution scoring (default 32)
  --evaluation-template T  the scoring prompt, with {{instruction}} and {{input}} (default
                         "Instruction: {{instruction}}\\n\\nInput: {{input}}\\nOutput:"; \\n is a newline)
  --induction-template T the meta-prompt, with {{count}} and {{pairs}} (default APE's "I gave a
                         friend an instruction ...")
`;

export async function runApeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...SEARCH_TARGET_OPTIONS,
      demos: { type: "string" },
      dev: { type: "string" },
      subsets: { type: "string" },
      "pairs-per-subset": { type: "string" },
      candidates: { type: "string" },
      temperature: { type: "string" },
      scoring: { type: "string" },
      "resample-rounds": { type: "string" },
      variants: { type: "string" },
      "max-instruction-tokens": { type: "string" },
      "max-output-tokens": { type: "string" },
      "evaluation-template": { type: "string" },
      "induction-template": { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const inputField = values["input-field"] ?? "text";
  const labelField = values["label-field"] ?? "label";
  const records = readTaskRecords(values.task, "ape", inputField, labelField);
  if (records.length < 2)
    throw new CliUsageError("ape needs at least 2 records: demonstrations and dev pairs");
  const seed = numberOption(values, "seed", { integer: true }) ?? 0;
  const demoCount =
    numberOption(values, "demos", { integer: true, min: 1, max: records.length - 1 }) ??
    Math.max(1, Math.floor(records.length / 2));
  const pairs: IoPair[] = shuffled(
    records.map((record) => ({ input: String(record[inputField]), output: String(record[labelField]) })),
    createRng(seed),
  );
  const demonstrations = pairs.slice(0, demoCount);
  const devLimit = numberOption(values, "dev", { integer: true, min: 1 });
  const dev = pairs.slice(demoCount, devLimit !== undefined ? demoCount + devLimit : undefined);
  const scoring = values.scoring ?? "execution";
  if (scoring !== "execution" && scoring !== "likelihood")
    throw new CliUsageError(`--scoring must be execution or likelihood, got "${scoring}"`);

  const options: ApeOptions = { demonstrations, dev, seed, scoring };
  const templates: Record<string, string> = {};
  for (const [flag, key, fields] of [
    ["evaluation-template", "evaluationTemplate", ["instruction", "input"]],
    ["induction-template", "inductionTemplate", ["count", "pairs"]],
  ] as const) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const template = raw.replace(/\\n/g, "\n");
    const unknown = templateFields(template).filter((name) => !(fields as readonly string[]).includes(name));
    if (unknown.length > 0)
      throw new CliUsageError(
        `--${flag} may use {{${fields.join("}}, {{")}}} only, found {{${unknown.join("}}, {{")}}}`,
      );
    options[key] = template;
    templates[key] = template;
  }
  const numeric: Array<[string, keyof ApeOptions, { integer?: boolean; min?: number; max?: number }]> = [
    ["subsets", "subsets", { integer: true, min: 1 }],
    ["pairs-per-subset", "pairsPerSubset", { integer: true, min: 1 }],
    ["candidates", "candidatesPerSubset", { integer: true, min: 1, max: 1000 }],
    ["temperature", "temperature", { min: 0 }],
    ["resample-rounds", "resampleRounds", { integer: true, min: 0 }],
    ["variants", "variantsPerRound", { integer: true, min: 1, max: 1000 }],
    ["max-instruction-tokens", "maxInstructionTokens", { integer: true, min: 1 }],
    ["max-output-tokens", "maxOutputTokens", { integer: true, min: 1 }],
  ];
  const chosen: Record<string, number> = {};
  for (const [flag, key, check] of numeric) {
    const value = numberOption(values, flag, check);
    if (value !== undefined) chosen[key] = value;
  }
  Object.assign(options, chosen);

  const target = searchTarget("ape", positionals, values);
  let scoredCount = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  options.onCandidate = (candidate) => {
    scoredCount++;
    bestScore = Math.max(bestScore, candidate.score);
    process.stderr.write(`\rscored ${scoredCount} candidate(s), best so far ${bestScore.toFixed(3)}   `);
  };
  try {
    const result = await searchInstructions(target.stack.lm, options);
    process.stderr.write("\n");
    const cost = searchCost(target.stack.meter.snapshot());
    const rows = result.candidates.map((candidate: ScoredInstruction, rank) => [
      String(rank + 1),
      candidate.score.toFixed(4),
      String(candidate.round),
      candidate.instruction,
    ]);
    console.log(renderTable(["rank", "score", "round", "instruction"], rows, [0, 1, 2]));
    console.log(`best (${scoring} ${result.best.score.toFixed(4)}): ${result.best.instruction}`);
    console.log(costLine(cost));
    if (values.out !== undefined) {
      const report = {
        method: "ape",
        model: target.model,
        ...(target.endpoint ? { endpoint: target.endpoint } : {}),
        task: values.task,
        fields: { input: inputField, label: labelField },
        seed,
        options: { scoring, demonstrations: demonstrations.length, dev: dev.length, ...chosen, ...templates },
        best: result.best,
        candidates: result.candidates,
        cost,
      };
      writeFileAtomic(values.out, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`wrote ${values.out}`);
    }
  } finally {
    target.stack.close();
  }
}

export const command: CliCommand = {
  summary: "automatic prompt engineering: induce and score instructions on a task file",
  help: apeHelp,
  run: runApeCommand,
};
