// Downloads models from a Hugging Face-compatible hub into a cache laid out as huggingface_hub lays it out,
// so a model pulled by adaptlm is found by transformers and the other way round:
//
//   <cache>/models--<org>--<name>/blobs/<etag>                 file contents, named by the hub's etag
//   <cache>/models--<org>--<name>/blobs/<etag>.incomplete      a partial download, resumed with a Range request
//   <cache>/models--<org>--<name>/snapshots/<commit>/<file>    relative symlinks to ../../blobs/<etag>
//   <cache>/models--<org>--<name>/refs/<revision>              the commit a branch or tag pointed to
//
// Protocol (as huggingface_hub's file_download.py uses it): GET <endpoint>/api/models/<repo>/revision/<rev>
// lists the files (`siblings`) and the commit (`sha`); HEAD <endpoint>/<repo>/resolve/<commit>/<file> gives the
// etag (`X-Linked-Etag` for LFS files = their sha256, else `ETag` = the git blob sha1), the size
// (`X-Linked-Size` or Content-Length) and may redirect to a CDN; GET downloads. Downloads are checked against
// the size and, where the etag is a sha256 (LFS) or a git blob sha1, against the content's hash.
//
// Environment: HF_ENDPOINT (default https://huggingface.co), HF_HUB_CACHE or HF_HOME/hub (default
// ~/.cache/huggingface/hub), HF_TOKEN (sent as a bearer token to the hub's own host only; never put into
// messages), HF_HUB_OFFLINE=1 (no network: the cached snapshot or an error naming the missing file).

import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative } from "node:path";
import { AdaptlmError } from "../errors.js";
import { writeFileAtomic } from "./atomic-file.js";

/**
 * Typed hub errors. Codes: HUB_BAD_ID, HUB_OFFLINE_MISSING (offline and a file is not cached), HUB_NOT_FOUND
 * (repository, revision or file), HUB_UNAUTHORIZED (gated/private: set HF_TOKEN), HUB_HTTP (other status),
 * HUB_NETWORK (connection failed or interrupted after retries), HUB_INTEGRITY (size or hash mismatch),
 * HUB_NO_WEIGHTS (no safetensors in the repository).
 */
export class HubError extends AdaptlmError {}

export interface DownloadProgress {
  file: string;
  /** Bytes of this file on disk so far (resumed bytes included). */
  downloaded: number;
  /** Size of the file when the hub says it, else null. */
  total: number | null;
  /** True once the file is complete (downloaded now or found in the cache). */
  done: boolean;
}

export interface HubOptions {
  /** Hub base URL; default $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Cache root; default $HF_HUB_CACHE, $HF_HOME/hub, or ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Access token for gated or private models; default $HF_TOKEN. */
  token?: string;
  /** Branch, tag or commit; default "main". */
  revision?: string;
  /** No network; default true when $HF_HUB_OFFLINE is 1/true/yes/on. */
  offline?: boolean;
  /** Attempts per file after a dropped connection, each resuming where the last stopped (default 3). */
  attempts?: number;
  onProgress?: (progress: DownloadProgress) => void;
  /** Environment to read the defaults from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** Whether text looks like a hub id `<org>/<name>` (callers check local paths first). */
export function isHubId(text: string): boolean {
  return HUB_ID.test(text) && !text.includes("..") && !text.endsWith(".bin");
}

function envOf(options: HubOptions): Readonly<Record<string, string | undefined>> {
  return options.env ?? process.env;
}

/** The cache root in effect: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(options: HubOptions = {}): string {
  if (options.cacheDir) return options.cacheDir;
  const env = envOf(options);
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, "hub");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "huggingface", "hub");
}

function isOffline(options: HubOptions): boolean {
  if (options.offline !== undefined) return options.offline;
  return /^(1|true|yes|on)$/i.test(envOf(options).HF_HUB_OFFLINE ?? "");
}

function endpointOf(options: HubOptions): string {
  return (options.endpoint ?? envOf(options).HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
}

function tokenOf(options: HubOptions): string | undefined {
  const token = options.token ?? envOf(options).HF_TOKEN ?? envOf(options).HUGGING_FACE_HUB_TOKEN;
  return token ? token : undefined;
}

/** models--org--name, the cache folder of a model repository. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split("/").join("--")}`;
}

function checkRepoId(repoId: string): void {
  if (!isHubId(repoId)) {
    throw new HubError(
      "HUB_BAD_ID",
      `"${repoId}" is not a hub model id: expected <org>/<name> (letters, digits, '-', '_', '.')`,
    );
  }
}

/** Files adaptlm needs besides the weights (those present are downloaded). */
const SUPPORT_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
  "vocab.txt",
  "vocab.json",
  "merges.txt",
];
const INDEX_FILE = "model.safetensors.index.json";
const SINGLE_FILE = "model.safetensors";

interface RepoInfo {
  commit: string;
  files: string[];
}

/** One resolved file: where its bytes live and what the hub says about them. */
interface FileMeta {
  etag: string;
  size: number | null;
  /** URL to GET (after the hub's redirect, if any). */
  url: string;
  /** Whether the token may be sent to `url` (same origin as the endpoint). */
  sameOrigin: boolean;
}

/**
 * Downloads (or finds in the cache) what a model needs: config, weights (single file or every shard of the
 * index) and tokenizer files. Returns the snapshot folder, usable as a model folder.
 */
export async function snapshotDownload(repoId: string, options: HubOptions = {}): Promise<string> {
  checkRepoId(repoId);
  const repoDir = join(hubCacheDir(options), repoFolderName(repoId));
  const revision = options.revision ?? "main";
  if (isOffline(options)) return offlineSnapshot(repoId, repoDir, revision);
  const info = await repoInfo(repoId, revision, options);
  const wanted = SUPPORT_FILES.filter((file) => info.files.includes(file));
  if (!wanted.includes("config.json")) {
    throw new HubError(
      "HUB_NOT_FOUND",
      `${repoId} has no config.json at ${revision}: is it a transformers model?`,
    );
  }
  let weightFiles: string[];
  if (info.files.includes(INDEX_FILE)) {
    await downloadFile(repoId, INDEX_FILE, info.commit, repoDir, options);
    weightFiles = shardsOf(join(repoDir, "snapshots", info.commit, INDEX_FILE), repoId);
  } else if (info.files.includes(SINGLE_FILE)) {
    weightFiles = [SINGLE_FILE];
  } else {
    throw new HubError(
      "HUB_NO_WEIGHTS",
      `${repoId} has no ${SINGLE_FILE} or ${INDEX_FILE} at ${revision} (adaptlm reads safetensors only; ` +
        "pytorch_model.bin is a pickle): pick a repository or revision with safetensors weights",
    );
  }
  for (const file of [...wanted, ...weightFiles])
    await downloadFile(repoId, file, info.commit, repoDir, options);
  if (revision !== info.commit) {
    mkdirSync(dirname(join(repoDir, "refs", revision)), { recursive: true });
    writeFileAtomic(join(repoDir, "refs", revision), info.commit);
  }
  return join(repoDir, "snapshots", info.commit);
}

/** Downloads one file of a repository (or finds it cached); returns its path in the snapshot. */
export async function hubDownloadFile(
  repoId: string,
  file: string,
  options: HubOptions = {},
): Promise<string> {
  checkRepoId(repoId);
  const repoDir = join(hubCacheDir(options), repoFolderName(repoId));
  const revision = options.revision ?? "main";
  if (isOffline(options)) {
    const snapshot = offlineSnapshotFolder(repoId, repoDir, revision, file);
    requireCached(repoId, snapshot, file);
    return join(snapshot, file);
  }
  const info = await repoInfo(repoId, revision, options);
  if (!info.files.includes(file)) {
    throw new HubError("HUB_NOT_FOUND", `${repoId} has no file ${file} at revision ${revision}`);
  }
  await downloadFile(repoId, file, info.commit, repoDir, options);
  if (revision !== info.commit) {
    mkdirSync(join(repoDir, "refs"), { recursive: true });
    writeFileAtomic(join(repoDir, "refs", revision), info.commit);
  }
  return join(repoDir, "snapshots", info.commit, file);
}

function shardsOf(indexPath: string, repoId: string): string[] {
  let map: unknown;
  try {
    map = (JSON.parse(readFileSync(indexPath, "utf8")) as { weight_map?: unknown }).weight_map;
  } catch (error) {
    throw new HubError("HUB_INTEGRITY", `${repoId}: ${INDEX_FILE} is not valid JSON`, { cause: error });
  }
  if (typeof map !== "object" || map === null) {
    throw new HubError("HUB_INTEGRITY", `${repoId}: ${INDEX_FILE} has no weight_map object`);
  }
  const shards = [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
  for (const shard of shards) {
    if (shard.includes("..") || shard.startsWith("/")) {
      throw new HubError("HUB_INTEGRITY", `${repoId}: ${INDEX_FILE} names an unsafe shard path ${shard}`);
    }
  }
  return shards;
}

const COMMIT = /^[0-9a-f]{40}$/;

function offlineSnapshotFolder(repoId: string, repoDir: string, revision: string, wanted: string): string {
  if (COMMIT.test(revision)) return join(repoDir, "snapshots", revision);
  const ref = join(repoDir, "refs", revision);
  if (!existsSync(ref)) {
    throw new HubError(
      "HUB_OFFLINE_MISSING",
      `offline (HF_HUB_OFFLINE=1) and ${repoId} is not in the cache: ${wanted} (revision ${revision}) was never ` +
        `downloaded to ${repoDir}. Run "adaptlm pull ${repoId}" while online, or unset HF_HUB_OFFLINE.`,
    );
  }
  return join(repoDir, "snapshots", readFileSync(ref, "utf8").trim());
}

function requireCached(repoId: string, snapshot: string, file: string): void {
  if (!existsSync(join(snapshot, file))) {
    throw new HubError(
      "HUB_OFFLINE_MISSING",
      `offline (HF_HUB_OFFLINE=1) and ${file} of ${repoId} is not in the cache (${join(snapshot, file)}). ` +
        `Run "adaptlm pull ${repoId}" while online, or unset HF_HUB_OFFLINE.`,
    );
  }
}

function offlineSnapshot(repoId: string, repoDir: string, revision: string): string {
  const snapshot = offlineSnapshotFolder(repoId, repoDir, revision, "config.json");
  requireCached(repoId, snapshot, "config.json");
  if (existsSync(join(snapshot, INDEX_FILE))) {
    for (const shard of shardsOf(join(snapshot, INDEX_FILE), repoId)) requireCached(repoId, snapshot, shard);
  } else {
    requireCached(repoId, snapshot, SINGLE_FILE);
  }
  return snapshot;
}

function authHeaders(options: HubOptions, sameOrigin: boolean): Record<string, string> {
  const token = tokenOf(options);
  const headers: Record<string, string> = { "user-agent": "adaptlm" };
  if (token && sameOrigin) headers.authorization = `Bearer ${token}`;
  return headers;
}

async function request(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new HubError(
      "HUB_NETWORK",
      `cannot reach the hub for ${what} (${new URL(url).origin}): ${describe(error)}. ` +
        "Check the connection or HF_ENDPOINT; set HF_HUB_OFFLINE=1 to use the cache only.",
      { cause: error },
    );
  }
}

function statusError(status: number, what: string, hasToken: boolean): HubError {
  if (status === 401 || status === 403) {
    return new HubError(
      "HUB_UNAUTHORIZED",
      `the hub refused ${what} (HTTP ${status}): ` +
        (hasToken
          ? "the token in HF_TOKEN has no access; accept the model's terms on its page or use another token"
          : "the model is gated or private; set HF_TOKEN to an access token"),
    );
  }
  if (status === 404) return new HubError("HUB_NOT_FOUND", `the hub has no ${what} (HTTP 404)`);
  return new HubError("HUB_HTTP", `the hub answered HTTP ${status} for ${what}`);
}

async function repoInfo(repoId: string, revision: string, options: HubOptions): Promise<RepoInfo> {
  const endpoint = endpointOf(options);
  const url = `${endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`;
  const what = `model ${repoId} at revision ${revision}`;
  const response = await request(url, { headers: authHeaders(options, true) }, what);
  if (!response.ok) {
    await response.body?.cancel();
    throw statusError(response.status, what, tokenOf(options) !== undefined);
  }
  let json: { sha?: unknown; siblings?: unknown };
  try {
    json = (await response.json()) as typeof json;
  } catch (error) {
    throw new HubError("HUB_HTTP", `the hub's answer for ${what} is not JSON`, { cause: error });
  }
  const commit = typeof json.sha === "string" && COMMIT.test(json.sha) ? json.sha : null;
  if (!commit || !Array.isArray(json.siblings)) {
    throw new HubError("HUB_HTTP", `the hub's answer for ${what} lacks a commit sha or the file list`);
  }
  const files = json.siblings
    .map((s) => (s as { rfilename?: unknown }).rfilename)
    .filter((f): f is string => typeof f === "string");
  return { commit, files };
}

function cleanEtag(raw: string | null): string | null {
  if (!raw) return null;
  return raw.replace(/^W\//, "").replace(/^"|"$/g, "");
}

async function resolveFile(
  repoId: string,
  file: string,
  commit: string,
  options: HubOptions,
): Promise<FileMeta> {
  const endpoint = endpointOf(options);
  const url = `${endpoint}/${repoId}/resolve/${commit}/${file.split("/").map(encodeURIComponent).join("/")}`;
  const what = `${file} of ${repoId}`;
  const response = await request(
    url,
    {
      method: "HEAD",
      redirect: "manual",
      headers: { ...authHeaders(options, true), "accept-encoding": "identity" },
    },
    what,
  );
  const redirected = response.status >= 300 && response.status < 400;
  if (!response.ok && !redirected) throw statusError(response.status, what, tokenOf(options) !== undefined);
  const etag = cleanEtag(response.headers.get("x-linked-etag")) ?? cleanEtag(response.headers.get("etag"));
  if (!etag || !/^[\w.-]+$/.test(etag)) {
    throw new HubError("HUB_HTTP", `the hub sent no usable ETag for ${what}; cannot cache it safely`);
  }
  const sizeHeader =
    response.headers.get("x-linked-size") ?? (redirected ? null : response.headers.get("content-length"));
  const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;
  const location = redirected ? response.headers.get("location") : null;
  const target = location ? new URL(location, url).toString() : url;
  return { etag, size, url: target, sameOrigin: new URL(target).origin === new URL(endpoint).origin };
}

async function downloadFile(
  repoId: string,
  file: string,
  commit: string,
  repoDir: string,
  options: HubOptions,
): Promise<void> {
  const snapshotPath = join(repoDir, "snapshots", commit, file);
  if (existsSync(snapshotPath)) {
    const size = statSync(snapshotPath).size;
    options.onProgress?.({ file, downloaded: size, total: size, done: true });
    return;
  }
  const meta = await resolveFile(repoId, file, commit, options);
  const blobPath = join(repoDir, "blobs", meta.etag);
  mkdirSync(dirname(blobPath), { recursive: true });
  if (!existsSync(blobPath)) await fetchBlob(repoId, file, meta, blobPath, options);
  mkdirSync(dirname(snapshotPath), { recursive: true });
  linkIntoSnapshot(blobPath, snapshotPath);
  const size = statSync(blobPath).size;
  options.onProgress?.({ file, downloaded: size, total: size, done: true });
}

function linkIntoSnapshot(blobPath: string, snapshotPath: string): void {
  try {
    symlinkSync(relative(dirname(snapshotPath), blobPath), snapshotPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return;
    // File systems without symlinks: huggingface_hub copies too.
    copyFileSync(blobPath, snapshotPath);
  }
}

async function fetchBlob(
  repoId: string,
  file: string,
  meta: FileMeta,
  blobPath: string,
  options: HubOptions,
): Promise<void> {
  const partial = `${blobPath}.incomplete`;
  const what = `${file} of ${repoId}`;
  const attempts = Math.max(1, options.attempts ?? 3);
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const start = existsSync(partial) ? statSync(partial).size : 0;
    if (meta.size !== null && start > meta.size) rmSync(partial, { force: true });
    try {
      await fetchInto(partial, meta, existsSync(partial) ? start : 0, options, file, what);
      lastError = undefined;
      break;
    } catch (error) {
      if (!(error instanceof HubError) || error.code !== "HUB_NETWORK") throw error;
      lastError = error;
    }
  }
  if (lastError) throw lastError;
  await verify(partial, meta, what);
  renameSync(partial, blobPath);
}

async function fetchInto(
  partial: string,
  meta: FileMeta,
  start: number,
  options: HubOptions,
  file: string,
  what: string,
): Promise<void> {
  if (meta.size !== null && start === meta.size && start > 0) return;
  const headers: Record<string, string> = {
    ...authHeaders(options, meta.sameOrigin),
    "accept-encoding": "identity",
  };
  if (start > 0) headers.range = `bytes=${start}-`;
  const response = await request(meta.url, { headers }, what);
  if (response.status === 416 && start > 0) {
    // Everything is there already; verify() decides.
    await response.body?.cancel();
    return;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw statusError(response.status, what, tokenOf(options) !== undefined);
  }
  // 206: the server resumed at `start`; 200: it sent the whole file, so start over.
  const resumed = response.status === 206 && start > 0;
  if (resumed) {
    const range = response.headers.get("content-range");
    const from = range ? /^bytes (\d+)-/.exec(range)?.[1] : undefined;
    if (from !== undefined && Number(from) !== start) {
      await response.body?.cancel();
      throw new HubError("HUB_HTTP", `the hub resumed ${what} at byte ${from}, asked for ${start}`);
    }
  }
  const fd = openSync(partial, resumed ? "a" : "w");
  let downloaded = resumed ? start : 0;
  try {
    if (!response.body) return;
    const reader = response.body.getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new HubError(
          "HUB_NETWORK",
          `download of ${what} broke off after ${downloaded} bytes: ${describe(error)}; run again to resume`,
          { cause: error },
        );
      }
      if (chunk.done) break;
      let written = 0;
      while (written < chunk.value.byteLength) {
        written += writeSync(fd, chunk.value, written, chunk.value.byteLength - written);
      }
      downloaded += chunk.value.byteLength;
      options.onProgress?.({ file, downloaded, total: meta.size, done: false });
    }
  } finally {
    closeSync(fd);
  }
  if (meta.size !== null && downloaded < meta.size) {
    throw new HubError(
      "HUB_NETWORK",
      `download of ${what} ended after ${downloaded} of ${meta.size} bytes; run again to resume`,
    );
  }
}

async function hashFile(path: string, algorithm: "sha256" | "sha1", prefix?: string): Promise<string> {
  const hash = createHash(algorithm);
  if (prefix) hash.update(prefix);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function verify(partial: string, meta: FileMeta, what: string): Promise<void> {
  const size = statSync(partial).size;
  const fail = (message: string): never => {
    rmSync(partial, { force: true });
    throw new HubError(
      "HUB_INTEGRITY",
      `${what}: ${message}; the partial file was removed, run again to download it anew`,
    );
  };
  if (meta.size !== null && size !== meta.size) fail(`downloaded ${size} bytes, the hub says ${meta.size}`);
  if (/^[0-9a-f]{64}$/.test(meta.etag)) {
    // LFS file: the etag is the sha256 of the content.
    const digest = await hashFile(partial, "sha256");
    if (digest !== meta.etag) fail(`sha256 ${digest} does not match the hub's ${meta.etag}`);
  } else if (/^[0-9a-f]{40}$/.test(meta.etag)) {
    // Regular git file: the etag is the git blob id, sha1("blob <size>\0" + content).
    const digest = await hashFile(partial, "sha1", `blob ${size}\0`);
    if (digest !== meta.etag) fail(`git blob sha1 ${digest} does not match the hub's ${meta.etag}`);
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
