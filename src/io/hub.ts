// Downloads models from a Hugging Face-compatible hub into a cache laid out as huggingface_hub lays it out,
// so a model pulled by adaptlm is found by transformers and the other way round:
//
//   <cache>/models--<org>--<name>/blobs/<etag>                 file contents, named by the hub's etag
//   <cache>/models--<org>--<name>/blobs/<etag>.incomplete      a partial download, resumed with a Range request
//   <cache>/models--<org>--<name>/snapshots/<commit>/<file>    relative symlinks to ../../blobs/<etag>
//   <cache>/models--<org>--<name>/refs/<revision>              the commit a branch or tag pointed to
//   <cache>/models--<org>--<name>/.adaptlm-safetensors-headers/<commit>/<file>.json
//                                     adaptlm only: the safetensors header of a weight file (`adaptlm info`)
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
import { basename, dirname, join, relative } from "node:path";
import { AdaptlmError } from "../errors.js";
import { writeFileAtomic } from "./atomic-file.js";
import { headerLengthOf } from "./safetensors-header.js";
import { type SafetensorsHeaderSource, safetensorsHeaderSource } from "./safetensors-header-source.js";

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
/** What a model summary needs besides the weights' headers: config and tokenizer, not the generation config. */
const DESCRIBE_FILES = SUPPORT_FILES.filter((file) => file !== "generation_config.json");
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
  const wanted = supportFilesOf(repoId, revision, info, SUPPORT_FILES);
  const weightFiles = await weightFilesOf(repoId, revision, info, repoDir, options);
  for (const file of [...wanted, ...weightFiles])
    await downloadFile(repoId, file, info.commit, repoDir, options);
  recordRef(repoDir, revision, info.commit);
  return join(repoDir, "snapshots", info.commit);
}

/** What `snapshotHeaders` gives: a snapshot folder without the weights, and the weights' headers. */
export interface HeaderSnapshot {
  /** Snapshot folder holding config.json, the tokenizer files and the shard index (weights only if pulled). */
  folder: string;
  /** Weight files that are not in `folder`, by file name: their headers alone. */
  headers: Map<string, SafetensorsHeaderSource>;
}

/**
 * What describing a model needs, without its weights: config and tokenizer files are downloaded as usual, and
 * of each weight file only the safetensors header is read, with HTTP Range requests for the first 8 bytes (the
 * header length N) and then bytes [8, 8 + N). A server that ignores Range and sends the whole file is read only
 * that far and the transfer is aborted. Headers are cached under <repo>/.adaptlm-safetensors-headers/<commit>/,
 * away from blobs/ and snapshots/, so a header never passes for a downloaded file; weight files already in the
 * snapshot (pulled before) are left to be read from disk. Offline, the cache or an error naming what is
 * missing. Errors: as snapshotDownload, plus SafetensorsError for a malformed header (nothing is cached then).
 */
export async function snapshotHeaders(repoId: string, options: HubOptions = {}): Promise<HeaderSnapshot> {
  checkRepoId(repoId);
  const repoDir = join(hubCacheDir(options), repoFolderName(repoId));
  const revision = options.revision ?? "main";
  const headers = new Map<string, SafetensorsHeaderSource>();
  if (isOffline(options)) {
    const folder = offlineSnapshotFolder(repoId, repoDir, revision, "config.json");
    requireCached(repoId, folder, "config.json");
    const weightFiles = existsSync(join(folder, INDEX_FILE))
      ? shardsOf(join(folder, INDEX_FILE), repoId)
      : [SINGLE_FILE];
    for (const file of weightFiles) {
      if (existsSync(join(folder, file))) continue;
      const cached = readCachedHeader(repoDir, basename(folder), file, repoId);
      if (!cached) requireCached(repoId, folder, file);
      else headers.set(file, cached);
    }
    return { folder, headers };
  }
  const info = await repoInfo(repoId, revision, options);
  const wanted = supportFilesOf(repoId, revision, info, DESCRIBE_FILES);
  for (const file of wanted) await downloadFile(repoId, file, info.commit, repoDir, options);
  const weightFiles = await weightFilesOf(repoId, revision, info, repoDir, options);
  const folder = join(repoDir, "snapshots", info.commit);
  for (const file of weightFiles) {
    if (existsSync(join(folder, file))) continue;
    const cached = readCachedHeader(repoDir, info.commit, file, repoId);
    headers.set(file, cached ?? (await fetchHeader(repoId, file, info.commit, repoDir, options)));
  }
  recordRef(repoDir, revision, info.commit);
  return { folder, headers };
}

function supportFilesOf(
  repoId: string,
  revision: string,
  info: RepoInfo,
  candidates: readonly string[],
): string[] {
  const wanted = candidates.filter((file) => info.files.includes(file));
  if (!wanted.includes("config.json")) {
    throw new HubError(
      "HUB_NOT_FOUND",
      `${repoId} has no config.json at ${revision}: is it a transformers model?`,
    );
  }
  return wanted;
}

/** The weight files of a repository: the shards its index names (the index is downloaded), or the single file. */
async function weightFilesOf(
  repoId: string,
  revision: string,
  info: RepoInfo,
  repoDir: string,
  options: HubOptions,
): Promise<string[]> {
  if (info.files.includes(INDEX_FILE)) {
    await downloadFile(repoId, INDEX_FILE, info.commit, repoDir, options);
    return shardsOf(join(repoDir, "snapshots", info.commit, INDEX_FILE), repoId);
  }
  if (info.files.includes(SINGLE_FILE)) return [SINGLE_FILE];
  throw new HubError(
    "HUB_NO_WEIGHTS",
    `${repoId} has no ${SINGLE_FILE} or ${INDEX_FILE} at ${revision} (adaptlm reads safetensors only; ` +
      "pytorch_model.bin is a pickle): pick a repository or revision with safetensors weights",
  );
}

function recordRef(repoDir: string, revision: string, commit: string): void {
  if (revision === commit) return;
  mkdirSync(dirname(join(repoDir, "refs", revision)), { recursive: true });
  writeFileAtomic(join(repoDir, "refs", revision), commit);
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
  recordRef(repoDir, revision, info.commit);
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

/** Folder of cached safetensors headers in a repository's cache folder (see snapshotHeaders). */
const HEADER_CACHE = ".adaptlm-safetensors-headers";

function headerCachePath(repoDir: string, commit: string, file: string): string {
  return join(repoDir, HEADER_CACHE, commit, `${file}.json`);
}

/** A cached header, validated again; null when absent or unreadable (then it is fetched anew). */
function readCachedHeader(
  repoDir: string,
  commit: string,
  file: string,
  repoId: string,
): SafetensorsHeaderSource | null {
  const path = headerCachePath(repoDir, commit, file);
  if (!existsSync(path)) return null;
  let cached: { fileSize?: unknown; prefix?: unknown };
  try {
    cached = JSON.parse(readFileSync(path, "utf8")) as typeof cached;
  } catch {
    return null;
  }
  if (typeof cached.fileSize !== "number" || typeof cached.prefix !== "string") return null;
  return safetensorsHeaderSource(Buffer.from(cached.prefix, "base64"), cached.fileSize, `${repoId}/${file}`);
}

/** Fetches, validates and caches the safetensors header of one weight file (see snapshotHeaders). */
async function fetchHeader(
  repoId: string,
  file: string,
  commit: string,
  repoDir: string,
  options: HubOptions,
): Promise<SafetensorsHeaderSource> {
  const meta = await resolveFile(repoId, file, commit, options);
  const what = `the header of ${file} of ${repoId}`;
  const label = `${repoId}/${file}`;
  const lengthBytes = await fetchRange(meta, 0, 8, what, options);
  const fileSize = meta.size ?? lengthBytes.fileSize;
  if (fileSize === null) {
    throw new HubError(
      "HUB_HTTP",
      `the hub reported no size for ${file} of ${repoId}, so its safetensors header cannot be checked; ` +
        `download the weights with "adaptlm pull ${repoId}" instead`,
    );
  }
  const headerLength = headerLengthOf(lengthBytes.bytes, fileSize, label);
  const json = headerLength > 0 ? (await fetchRange(meta, 8, headerLength, what, options)).bytes : null;
  const prefix = new Uint8Array(8 + (json?.byteLength ?? 0));
  prefix.set(lengthBytes.bytes);
  if (json) prefix.set(json, 8);
  // Validated before it is cached, so a malformed header is an error now and never a cache entry.
  const source = safetensorsHeaderSource(prefix, fileSize, label);
  const path = headerCachePath(repoDir, commit, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, JSON.stringify({ fileSize, prefix: Buffer.from(prefix).toString("base64") }));
  options.onProgress?.({
    file: `${file} (header)`,
    downloaded: prefix.byteLength,
    total: prefix.byteLength,
    done: true,
  });
  return source;
}

/**
 * Bytes [from, from + length) of a file: a Range request; a server that ignores Range (200, whole file) is read
 * only until those bytes have arrived and the transfer is aborted. Returns fewer bytes when the file ends first,
 * and the file's size when the answer tells it (Content-Range total, or Content-Length of a 200).
 */
async function fetchRange(
  meta: FileMeta,
  from: number,
  length: number,
  what: string,
  options: HubOptions,
): Promise<{ bytes: Uint8Array; fileSize: number | null }> {
  const controller = new AbortController();
  const headers: Record<string, string> = {
    ...authHeaders(options, meta.sameOrigin),
    "accept-encoding": "identity",
    range: `bytes=${from}-${from + length - 1}`,
  };
  const response = await request(meta.url, { headers, signal: controller.signal }, what);
  try {
    if (response.status === 416) return { bytes: new Uint8Array(0), fileSize: null };
    if (response.status !== 206 && response.status !== 200) {
      throw statusError(response.status, what, tokenOf(options) !== undefined);
    }
    let skip = 0;
    let fileSize: number | null = null;
    if (response.status === 206) {
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
      if (!range || Number(range[1]) !== from) {
        throw new HubError(
          "HUB_HTTP",
          `the hub answered a Range request for ${what} with Content-Range ` +
            `"${response.headers.get("content-range")}", expected bytes from ${from}`,
        );
      }
      if (range[2] !== "*") fileSize = Number(range[2]);
    } else {
      skip = from;
      const contentLength = response.headers.get("content-length");
      if (contentLength !== null && /^\d+$/.test(contentLength)) fileSize = Number(contentLength);
    }
    const bytes = new Uint8Array(length);
    let filled = 0;
    const reader = response.body?.getReader();
    while (reader && filled < length) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new HubError("HUB_NETWORK", `reading ${what} broke off: ${describe(error)}`, { cause: error });
      }
      if (chunk.done) break;
      let data = chunk.value;
      if (skip > 0) {
        const skipped = Math.min(skip, data.byteLength);
        skip -= skipped;
        data = data.subarray(skipped);
      }
      const take = Math.min(data.byteLength, length - filled);
      bytes.set(data.subarray(0, take), filled);
      filled += take;
    }
    return { bytes: bytes.subarray(0, filled), fileSize };
  } finally {
    // Whatever the server still sends (all of the weights, when it ignored Range) is not wanted.
    controller.abort();
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
