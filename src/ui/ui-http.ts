// The small HTTP vocabulary of the UI server: JSON and static answers with the security headers every page
// gets, JSON errors ({error: {code, message}}), and request bodies read under a size limit.

import type { IncomingMessage, ServerResponse } from "node:http";
import { redactSecrets } from "../lm/api-key.js";
import { UiError } from "./ui-error.js";

/**
 * Everything the pages load comes from this server (no CDN, no inline script): a script injected through
 * run text could not run even if some escaping were missed. Charts are <img> SVGs, which never run scripts.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function securityHeaders(contentType: string, length: number): Record<string, string | number> {
  return {
    "content-type": contentType,
    "content-length": length,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": CONTENT_SECURITY_POLICY,
  };
}

export function sendText(res: ServerResponse, status: number, contentType: string, body: string): void {
  const bytes = Buffer.from(body, "utf8");
  res.writeHead(status, securityHeaders(contentType, bytes.length));
  res.end(bytes);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendText(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}

/** Answers with the error as JSON; unexpected errors are 500s. Secrets never reach the message. */
export function sendError(res: ServerResponse, error: unknown, secrets: readonly string[]): number {
  const status = error instanceof UiError ? error.status : 500;
  const code = error instanceof UiError ? error.code : "UI_INTERNAL";
  const raw = error instanceof Error ? error.message : String(error);
  const message = redactSecrets(status === 500 ? `internal error: ${raw}` : raw, secrets);
  if (res.headersSent) res.destroy();
  else sendJson(res, status, { error: { code, message } });
  return status;
}

/** The JSON object in the request body, or UiError 413 (too large) / 415 (not JSON) / 400 (invalid). */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    // Requiring application/json also makes a cross-site form post impossible without a CORS preflight,
    // which this server never grants.
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") {
      reject(new UiError("UI_BODY_TYPE", `send the body as application/json, got "${type || "none"}"`, 415));
      req.resume();
      return;
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      reject(
        new UiError(
          "UI_BODY_TOO_LARGE",
          `request body of ${declared} bytes exceeds the limit of ${limit}`,
          413,
        ),
      );
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit && !failed) {
        failed = true;
        reject(new UiError("UI_BODY_TOO_LARGE", `request body exceeds the limit of ${limit} bytes`, 413));
      }
      if (!failed) chunks.push(chunk);
    });
    req.on("error", (error) => {
      if (!failed) reject(error);
      failed = true;
    });
    req.on("end", () => {
      if (failed) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch (error) {
        reject(new UiError("UI_BODY_JSON", `the body is not valid JSON (${(error as Error).message})`));
        return;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        reject(new UiError("UI_BODY_JSON", "the body must be a JSON object"));
        return;
      }
      resolve(parsed as Record<string, unknown>);
    });
  });
}
