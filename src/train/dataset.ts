// Training data from files: JSON Lines, a JSON array, CSV or TSV (RFC 4180 quoting), one file per split or
// a Hugging Face-style folder with train / validation / test files; field mapping for text, pair and label;
// the label set given or inferred; tokenisation with truncation into TrainExamples for sequence (and
// sentence-pair) classification. Parquet files are read by readRecordsAsync (hyparquet decodes them
// asynchronously); every other format goes through the one synchronous reader, readRecords.

import { existsSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { AdaptlmError } from "../errors.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { TrainExample } from "./collate.js";

export class DatasetError extends AdaptlmError {}

export type DataRecord = Record<string, unknown>;

/** RFC 4180 rows: quoted fields may hold the delimiter, newlines and doubled quotes. */
export function parseDelimited(text: string, delimiter = ","): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  while (i < body.length) {
    const ch = body[i];
    if (quoted) {
      if (ch === '"') {
        if (body[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === "") quoted = true;
    else if (ch === delimiter) {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && body[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
    i++;
  }
  if (quoted)
    throw new DatasetError(
      "CSV_UNTERMINATED_QUOTE",
      "a quoted CSV field is not closed before the end of the file",
    );
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** Records of a .jsonl / .json / .csv / .tsv file (CSV/TSV: the first row names the fields). */
export function readRecords(path: string): DataRecord[] {
  if (!existsSync(path)) throw new DatasetError("DATA_FILE_MISSING", `data file ${path} does not exist`);
  const text = readFileSync(path, "utf8");
  const ext = extname(path).toLowerCase();
  if (ext === ".jsonl" || ext === ".ndjson") {
    return text
      .split("\n")
      .map((line, n) => [line.trim(), n + 1] as const)
      .filter(([line]) => line !== "")
      .map(([line, n]) => {
        try {
          return JSON.parse(line) as DataRecord;
        } catch (error) {
          throw new DatasetError(
            "DATA_BAD_JSON",
            `${path}:${n} is not valid JSON: ${(error as Error).message}`,
          );
        }
      });
  }
  if (ext === ".json") {
    const parsed = JSON.parse(text) as unknown;
    if (!Array.isArray(parsed))
      throw new DatasetError("DATA_BAD_JSON", `${path} must hold a JSON array of records (or use .jsonl)`);
    return parsed as DataRecord[];
  }
  if (ext === ".csv" || ext === ".tsv") {
    const [header, ...rows] = parseDelimited(text, ext === ".tsv" ? "\t" : ",");
    if (!header) return [];
    return rows.map((cells, n) => {
      if (cells.length !== header.length) {
        throw new DatasetError(
          "CSV_ROW_WIDTH",
          `${path}: row ${n + 2} has ${cells.length} fields, the header has ${header.length}`,
        );
      }
      return Object.fromEntries(header.map((name, c) => [name, cells[c]]));
    });
  }
  if (ext === ".parquet")
    throw new DatasetError(
      "DATA_PARQUET_NEEDS_ASYNC",
      `${path}: Parquet is decoded asynchronously; read it with readRecordsAsync (or convert it to .jsonl)`,
    );
  throw new DatasetError(
    "DATA_FORMAT_UNSUPPORTED",
    `${path}: unsupported data format "${ext}" (use .jsonl, .json, .csv, .tsv or .parquet)`,
  );
}

/** Records of a .parquet file (one per row, column name -> value) or, for any other format, of readRecords. */
export async function readRecordsAsync(path: string): Promise<DataRecord[]> {
  if (extname(path).toLowerCase() !== ".parquet") return readRecords(path);
  if (!existsSync(path)) throw new DatasetError("DATA_FILE_MISSING", `data file ${path} does not exist`);
  const { parquetReadObjects } = await import("hyparquet");
  const bytes = readFileSync(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file });
  } catch (error) {
    throw new DatasetError(
      "DATA_BAD_PARQUET",
      `${path} is not a readable Parquet file: ${(error as Error).message}`,
    );
  }
  // INT64 columns (how pandas and datasets store labels) arrive as BigInt, which JSON and label maps do not take.
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])),
  );
}

const SPLIT_NAMES: Record<string, string[]> = {
  train: ["train"],
  validation: ["validation", "valid", "val", "dev"],
  test: ["test"],
};
const EXTENSIONS = [".jsonl", ".json", ".csv", ".tsv", ".parquet"];

/** The split files of a Hugging Face-style folder (train.jsonl, validation.csv, dev.tsv, test.json, ...). */
export function findSplits(dir: string): { train?: string; validation?: string; test?: string } {
  const out: { train?: string; validation?: string; test?: string } = {};
  for (const [split, names] of Object.entries(SPLIT_NAMES)) {
    for (const name of names) {
      const found = EXTENSIONS.map((ext) => join(dir, `${name}${ext}`)).find((p) => existsSync(p));
      if (found) {
        out[split as keyof typeof out] = found;
        break;
      }
    }
  }
  if (!out.train)
    throw new DatasetError(
      "DATA_NO_TRAIN_SPLIT",
      `${dir} has no train file (train.jsonl, train.csv, train.tsv, train.json or train.parquet)`,
    );
  return out;
}

export interface ClassificationFields {
  textField?: string;
  /** Second text of a sentence pair (token type 1). */
  pairField?: string;
  labelField?: string;
  /** The label names in id order; inferred (sorted distinct values) when absent. */
  labels?: string[];
  maxLength?: number;
}

function field(record: DataRecord, name: string, where: string): unknown {
  if (!(name in record)) {
    throw new DatasetError(
      "DATA_FIELD_MISSING",
      `${where} has no field "${name}" (fields: ${Object.keys(record).join(", ")}); map it with the field options`,
    );
  }
  return record[name];
}

/** Label names in id order: integer labels 0..k-1 keep their ids; other values are sorted. */
export function inferLabels(records: readonly DataRecord[], labelField: string): string[] {
  const values = [...new Set(records.map((r, i) => String(field(r, labelField, `record ${i}`))))];
  if (values.every((v) => /^\d+$/.test(v))) {
    const max = Math.max(...values.map(Number));
    return Array.from({ length: max + 1 }, (_, i) => String(i));
  }
  return values.sort();
}

/** Tokenised classification examples (single sentences, or pairs with token types). */
export function classificationExamples(
  records: readonly DataRecord[],
  tokenizer: Tokenizer,
  fields: ClassificationFields = {},
): { examples: TrainExample[]; labels: string[] } {
  const textField = fields.textField ?? "text";
  const labelField = fields.labelField ?? "label";
  const labels = fields.labels ?? inferLabels(records, labelField);
  const ids = new Map(labels.map((l, i) => [l, i]));
  const examples = records.map((record, i) => {
    const where = `record ${i}`;
    const text = String(field(record, textField, where));
    const pair = fields.pairField ? String(field(record, fields.pairField, where)) : undefined;
    const encoding = tokenizer.encode(text, {
      pair,
      truncation: fields.maxLength !== undefined,
      maxLength: fields.maxLength,
    });
    const raw = record[labelField];
    let label: number | undefined;
    if (raw !== undefined && raw !== null && raw !== "") {
      label = ids.get(String(raw));
      if (label === undefined) {
        throw new DatasetError(
          "DATA_UNKNOWN_LABEL",
          `${where} has label "${String(raw)}", which is not in the label set ${JSON.stringify(labels)}`,
        );
      }
    }
    return { inputIds: encoding.ids, tokenTypeIds: encoding.typeIds, label };
  });
  return { examples, labels };
}
