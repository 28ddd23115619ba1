// Keeping credentials out of reports. Runs may record a server URL and options, and model outputs may quote
// anything; a report is a file people share. Three layers: the loader redacts option keys that name
// credentials and strips user info and query strings from endpoints; the renderer replaces every known
// secret (e.g. the values of credential-like environment variables) wherever it appears; and any
// "Bearer <token>" is hidden (src/lm/api-key.ts).

import { REDACTED, redactSecrets } from "../../lm/api-key.js";

const SECRET_KEY =
  /(api[-_]?key|secret|password|passwd|authori[sz]ation|bearer|credential|cookie|^token$|access[-_]?token|auth[-_]?token)/i;
const SECRET_ENV_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)/i;
/** Shorter values are too likely to occur by chance in ordinary text to be replaced everywhere. */
const MIN_SECRET_LENGTH = 8;

/** Options with credential-like keys redacted (recursively) and Bearer tokens hidden in strings. */
export function redactOptions(value: unknown): unknown {
  if (typeof value === "string") return redactSecrets(value, []);
  if (Array.isArray(value)) return value.map(redactOptions);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value))
      out[key] = SECRET_KEY.test(key) ? REDACTED : redactOptions(inner);
    return out;
  }
  return value;
}

/** A server URL without user info, query or fragment (where keys sometimes hide). */
export function safeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.toString();
  } catch {
    return redactSecrets(endpoint.replace(/[?#].*$/, ""), []);
  }
}

/** Values of environment variables whose names say they hold a credential (OPENAI_API_KEY, HF_TOKEN...). */
export function secretsFromEnvironment(env: Record<string, string | undefined>): string[] {
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !SECRET_ENV_NAME.test(name)) continue;
    const trimmed = value.trim();
    if (trimmed.length >= MIN_SECRET_LENGTH) secrets.push(trimmed);
  }
  return secrets;
}

/** `value` with every string passed through redactSecrets (known secrets and Bearer tokens replaced). */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  const usable = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH);
  const walk = (inner: unknown): unknown => {
    if (typeof inner === "string") return redactSecrets(inner, usable);
    if (Array.isArray(inner)) return inner.map(walk);
    if (typeof inner === "object" && inner !== null)
      return Object.fromEntries(Object.entries(inner).map(([k, v]) => [k, walk(v)]));
    return inner;
  };
  return walk(value) as T;
}

export { REDACTED };
