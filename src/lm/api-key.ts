// API keys come only from the environment or a config file, and never leave the Authorization header: every
// message that could carry one (errors, server answers quoted in errors) goes through `redactSecrets`.

import { readFileSync } from "node:fs";
import { AdaptlmError } from "../errors.js";

export const REDACTED = "[REDACTED]";

export class ApiKeyConfigError extends AdaptlmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("LM_API_KEY_CONFIG", message, options);
  }
}

export interface ApiKeySource {
  /** Environment variable holding the key. Default `OPENAI_API_KEY`. */
  apiKeyEnv?: string;
  /**
   * A config file holding the key: JSON with an `apiKey` (or `api_key`) field, or a file whose whole trimmed
   * content is the key. Used when the environment variable is unset or empty.
   */
  apiKeyFile?: string;
  /** The environment to read; default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** The key from the environment, else the config file, else undefined (servers without auth). */
export function resolveApiKey(source: ApiKeySource = {}): string | undefined {
  const envName = source.apiKeyEnv ?? "OPENAI_API_KEY";
  const env = source.env ?? process.env;
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv.trim() !== "") return fromEnv.trim();
  if (source.apiKeyFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(source.apiKeyFile, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ApiKeyConfigError(
      `cannot read the API key file ${source.apiKeyFile} (${reason}): check the path, or set ${envName} instead`,
    );
  }
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new ApiKeyConfigError(
        `API key file ${source.apiKeyFile} starts with "{" but is not valid JSON: write {"apiKey": "..."} or the bare key`,
      );
    }
    const record = parsed as Record<string, unknown>;
    const key = record.apiKey ?? record.api_key;
    if (typeof key !== "string" || key.trim() === "") {
      throw new ApiKeyConfigError(
        `API key file ${source.apiKeyFile} has no string field "apiKey" (or "api_key"): add one, or set ${envName}`,
      );
    }
    return key.trim();
  }
  if (trimmed === "") {
    throw new ApiKeyConfigError(
      `API key file ${source.apiKeyFile} is empty: put the key in it, or set ${envName}`,
    );
  }
  return trimmed;
}

/** Replaces every occurrence of each secret, and any `Bearer <token>`, with [REDACTED]. */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 4) continue;
    out = out.split(secret).join(REDACTED);
    // servers often quote a key shortened, e.g. "sk-abc...wxyz": hide its first 8 characters wherever they appear
    if (secret.length >= 16) out = out.split(secret.slice(0, 8)).join(REDACTED);
  }
  return out.replace(/Bearer\s+[^\s"',]+/gi, `Bearer ${REDACTED}`);
}
