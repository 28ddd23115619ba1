// `adaptlm score-outputs --outputs FILE --gold FILE --answer-type T`: re-scores generations recorded elsewhere
// (a paper's published outputs, another tool's run) with adaptlm's own answer extraction, voting and metric
// (src/prompting/rescore.ts), so a published accuracy can be checked against ours. Reading the files,
// validating records and rendering only; the scoring itself is `rescoreOutputs`.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../../io/atomic-file.js";
import type { AnswerType } from "../../prompting/answer-extraction.js";
import {
  type GoldAnswer,
  type RecordedOutput,
  type RescoreOptions,
  rescoreOutputs,
} from "../../prompting/rescore.js";
import { type DataRecord, readRecords } from "../../train/dataset.js";
import type { CliCommand } from "../command.js";
import { CliUsageError } from "./pull.js";

const ANSWER_TYPES = ["number", "choice", "yes-no", "text"] as const;
const VOTES = ["majority", "weighted"] as const;
const EXTRACTIONS = ["answer-phrase", "first", "last"] as const;

export const scoreOutputsHelp = `adaptlm score-outputs --outputs FILE --gold FILE --answer-type TYPE [options]

Re-scores recorded model outputs with adaptlm's answer extraction, cleaning and voting (the same
code the prompting strategies use) and prints notes, counts and, as the last line,
"accuracy: <percent>".

Outputs (JSONL, one object per example):
  {"id": ..., "output": "..."}                       one generation
  {"id": ..., "outputs": ["...", ...]}               several samples, voted
  "logprobs": [...]                                  optional, one entry per sample: its token
                                                     logprobs (array) or mean token logprob (number);
                                                     needed by --vote weighted
Gold (JSONL, or a task file: .json, .csv, .tsv): {"id": ..., "answer": ...}

Options:
  --outputs FILE         the recorded outputs (required)
  --gold FILE            the gold answers (required)
  --answer-type T        ${ANSWER_TYPES.join("|")} (required)
  --vote V               ${VOTES.join("|")} (default majority; weighted = sum of exp(mean token
                         logprob) per answer, as weighted self-consistency)
  --extraction E         ${EXTRACTIONS.join("|")} (default answer-phrase: after the last
                         "The answer is", else the last candidate)
  --choice-letters L     for --answer-type choice: the option letters, comma-separated (default A,B,C,D,E)
  --id-field NAME        field holding the id, in both files (default id)
  --answer-field NAME    field of the gold file holding the answer (default answer)
  --details FILE         write every example's prediction and votes as JSONL
`;

const NOTES: Record<AnswerType, string> = {
  number:
    "number: commas and currency signs dropped; compared by value (1,000.50 = 1000.5); the first number after the answer phrase, else per --extraction",
  choice:
    "choice: a standalone option letter, with or without parentheses ((B), B); compared case-insensitively",
  "yes-no": "yes-no: the words yes/no, case-insensitively",
  text: "text: the first line, surrounding quotes and a final period stripped; compared case-insensitively",
};

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  name: string,
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new CliUsageError(`--${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}

function isId(value: unknown): value is string | number {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

/** Parses the outputs JSONL with line numbers in every error, checking each record's shape. */
export function readOutputRecords(path: string, idField = "id"): RecordedOutput[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CliUsageError(`cannot read --outputs ${path}: ${(error as Error).message}`);
  }
  const records: RecordedOutput[] = [];
  text.split("\n").forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === "") return;
    const where = `${path}:${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new CliUsageError(`${where} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new CliUsageError(`${where} must be a JSON object, got ${JSON.stringify(value).slice(0, 60)}`);
    const object = value as Record<string, unknown>;
    const id = object[idField];
    if (!isId(id))
      throw new CliUsageError(`${where} has no "${idField}" (a string or number): choose it with --id-field`);
    const record: RecordedOutput = { id };
    if (typeof object.output === "string") record.output = object.output;
    else if (Array.isArray(object.outputs) && object.outputs.every((o) => typeof o === "string"))
      record.outputs = object.outputs as string[];
    else
      throw new CliUsageError(
        `${where} needs "output" (a string) or "outputs" (an array of strings); fields: ${Object.keys(object).join(", ")}`,
      );
    if (object.logprobs !== undefined) {
      const logprobs = object.logprobs;
      const valid =
        Array.isArray(logprobs) &&
        logprobs.every(
          (entry) =>
            typeof entry === "number" ||
            (Array.isArray(entry) && entry.every((token) => typeof token === "number")),
        );
      if (!valid)
        throw new CliUsageError(
          `${where}: "logprobs" must be an array with one entry per sample: a number (mean token logprob) or an array of token logprobs`,
        );
      record.logprobs = logprobs as Array<number | number[]>;
    }
    records.push(record);
  });
  return records;
}

/** Gold answers from a JSONL or task file; every record needs an id and an answer. */
export function readGoldAnswers(path: string, idField = "id", answerField = "answer"): GoldAnswer[] {
  const records: DataRecord[] = readRecords(path);
  const seen = new Set<string>();
  // blank JSONL lines are skipped when reading, so records are named by their position among records
  return records.map((record, index) => {
    const where = `${path}: record ${index + 1}`;
    const id = record[idField];
    if (!isId(id))
      throw new CliUsageError(
        `${where} has no "${idField}" (a string or number): every gold answer needs an id (choose the field with --id-field)`,
      );
    const answer = record[answerField];
    if (!isId(answer))
      throw new CliUsageError(
        `${where} (id ${JSON.stringify(id)}) has no "${answerField}" (a string or number); fields: ${Object.keys(record).join(", ")}: choose it with --answer-field`,
      );
    if (seen.has(String(id)))
      throw new CliUsageError(`${where}: gold id ${JSON.stringify(id)} appears twice: ids must be unique`);
    seen.add(String(id));
    return { id, answer };
  });
}

function listSome(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).map((id) => JSON.stringify(id));
  return ids.length > 5 ? `${shown.join(", ")}, ... (${ids.length - 5} more)` : shown.join(", ");
}

export async function runScoreOutputsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      outputs: { type: "string" },
      gold: { type: "string" },
      "answer-type": { type: "string" },
      vote: { type: "string" },
      extraction: { type: "string" },
      "choice-letters": { type: "string" },
      "id-field": { type: "string" },
      "answer-field": { type: "string" },
      details: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0)
    throw new CliUsageError(`score-outputs takes no positional arguments, got ${positionals.join(" ")}`);
  if (values.outputs === undefined) throw new CliUsageError("score-outputs needs --outputs FILE (JSONL)");
  if (values.gold === undefined)
    throw new CliUsageError("score-outputs needs --gold FILE (JSONL or a task file)");
  const answerType = oneOf(values["answer-type"], ANSWER_TYPES, "answer-type");
  if (answerType === undefined)
    throw new CliUsageError(`score-outputs needs --answer-type (${ANSWER_TYPES.join(", ")})`);
  const vote = oneOf(values.vote, VOTES, "vote") ?? "majority";
  const extraction = oneOf(values.extraction, EXTRACTIONS, "extraction") ?? "answer-phrase";
  const options: RescoreOptions = { answerType, vote, extraction };
  if (values["choice-letters"] !== undefined) {
    const letters = values["choice-letters"]
      .split(",")
      .map((letter) => letter.trim())
      .filter(Boolean);
    if (letters.length < 2)
      throw new CliUsageError('--choice-letters needs at least two letters, e.g. "A,B,C,D"');
    options.choiceLetters = letters;
  }
  const idField = values["id-field"] ?? "id";
  const outputs = readOutputRecords(values.outputs, idField);
  const gold = readGoldAnswers(values.gold, idField, values["answer-field"] ?? "answer");
  const result = rescoreOutputs(outputs, gold, options);

  const sampled = outputs.filter((record) => (record.outputs?.length ?? 1) > 1).length;
  const abstained = result.examples.filter(
    (example) => example.predicted === undefined && !result.missing.includes(example.id),
  ).length;
  console.log(`note: ${NOTES[answerType]}`);
  console.log(
    `note: extraction ${extraction}${
      extraction === "answer-phrase" ? ' (after the last "The answer is", else the last candidate)' : ""
    }; vote ${vote}${sampled > 0 ? ` over ${sampled} example(s) with several samples` : ""}`,
  );
  console.log(`gold examples: ${result.total}; output records: ${outputs.length}`);
  console.log(
    `unmatched output ids (no gold answer, ignored): ${result.unmatched.length}${
      result.unmatched.length > 0 ? ` (${listSome(result.unmatched)})` : ""
    }`,
  );
  console.log(
    `gold ids without outputs (counted wrong): ${result.missing.length}${
      result.missing.length > 0 ? ` (${listSome(result.missing)})` : ""
    }`,
  );
  console.log(`outputs with no extractable ${answerType} answer (counted wrong): ${abstained}`);
  console.log(`correct: ${result.correct}/${result.total}`);
  if (values.details !== undefined) {
    const lines = result.examples.map((example) => JSON.stringify(example));
    writeFileAtomic(values.details, lines.length > 0 ? `${lines.join("\n")}\n` : "");
    console.log(`details: ${values.details}`);
  }
  console.log(`accuracy: ${(result.accuracy * 100).toFixed(2)}`);
}

export const command: CliCommand = {
  summary: "re-score recorded outputs (JSONL) against gold answers with adaptlm's extraction and voting",
  help: scoreOutputsHelp,
  run: runScoreOutputsCommand,
};
