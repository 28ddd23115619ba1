// Answer extraction and cleaning per answer type, after Kojima et al. (2022)'s answer cleansing: numbers
// (commas and currency signs dropped; the first number right after an answer trigger, else the last number),
// choice letters, yes/no, and free text. The cleaned answers are canonical, so equal answers compare equal
// ("$1,000.50" and "1000.5" both clean to "1000.5").

export type AnswerType = "number" | "choice" | "yes-no" | "text";

export interface ExtractOptions {
  type: AnswerType;
  /**
   * Which candidate to take when the text holds several: "first" right after an answer trigger (the model was
   * asked for the answer), "last" after free reasoning. Default "last".
   */
  position?: "first" | "last";
  /** For "choice": the option letters. Default A-E. */
  choiceLetters?: readonly string[];
}

/** The answer phrase of few-shot chain-of-thought exemplars ("... The answer is 42."). */
export const ANSWER_PHRASE = "The answer is";

/** Canonical decimal form: "3.50" -> "3.5", "3." -> "3", "-0" -> "0". */
export function canonicalNumber(text: string): string | undefined {
  const value = Number(text);
  if (!Number.isFinite(value)) return undefined;
  if (Object.is(value, -0)) return "0";
  // round away float noise from e.g. 0.1 + 0.2, keeping up to 10 decimals
  return String(Number(value.toFixed(10)));
}

/** Every number in the text, in order, commas and currency removed, canonical. */
export function findNumbers(text: string): string[] {
  const withoutGrouping = text.replace(/(\d),(?=\d{3}\b)/g, "$1").replace(/[$€£¥]/g, "");
  const out: string[] = [];
  for (const match of withoutGrouping.matchAll(/-?\d+(?:\.\d+)?|-?\.\d+/g)) {
    const number = canonicalNumber(match[0]);
    if (number !== undefined) out.push(number);
  }
  return out;
}

/** The cleaned answer, or undefined when the text holds none of the expected kind. */
export function extractAnswer(text: string, options: ExtractOptions): string | undefined {
  const position = options.position ?? "last";
  const pick = (candidates: string[]): string | undefined =>
    candidates.length === 0
      ? undefined
      : position === "first"
        ? candidates[0]
        : candidates[candidates.length - 1];
  switch (options.type) {
    case "number":
      return pick(findNumbers(text));
    case "choice": {
      const letters = options.choiceLetters ?? ["A", "B", "C", "D", "E"];
      const pattern = new RegExp(
        `(?<![A-Za-z])\\(?(${letters.map(escapeRegExp).join("|")})\\)?(?![A-Za-z])`,
        "g",
      );
      return pick([...text.matchAll(pattern)].map((match) => match[1]));
    }
    case "yes-no": {
      const words = text.toLowerCase().match(/\b(yes|no)\b/g) ?? [];
      return pick(words);
    }
    case "text": {
      const line = text.trim().split("\n")[0] ?? "";
      const cleaned = line.replace(/^["'“‘\s]+|["'”’.\s]+$/gu, "").trim();
      return cleaned === "" ? undefined : cleaned;
    }
  }
}

/**
 * For few-shot chain of thought: the answer after the last "The answer is" (first candidate there), else the
 * last candidate in the whole text.
 */
export function extractAfterAnswerPhrase(
  text: string,
  options: Omit<ExtractOptions, "position">,
  phrase = ANSWER_PHRASE,
): string | undefined {
  const index = text.toLowerCase().lastIndexOf(phrase.toLowerCase());
  if (index >= 0) {
    const after = extractAnswer(text.slice(index + phrase.length), { ...options, position: "first" });
    if (after !== undefined) return after;
  }
  return extractAnswer(text, { ...options, position: "last" });
}

/** Compares cleaned answers: numbers by value, everything else case-insensitively after trimming. */
export function answersMatch(predicted: string | undefined, gold: string, type: AnswerType): boolean {
  if (predicted === undefined) return false;
  if (type === "number") {
    const goldNumber = canonicalNumber(
      gold
        .replace(/,/g, "")
        .replace(/[$€£¥]/g, "")
        .trim(),
    );
    return goldNumber !== undefined && canonicalNumber(predicted) === goldNumber;
  }
  return predicted.trim().toLowerCase() === gold.trim().toLowerCase();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
