// Positional reads from an open file descriptor, in bounded chunks, without ever reading a whole file into
// one buffer. Callers turn a short read (file truncated or changed underneath) into their own typed error.

import { readSync } from "node:fs";

/** Largest single readSync request: libuv takes a 32-bit length, and smaller chunks keep latency even. */
const MAX_READ_CHUNK = 1 << 30;

/**
 * Reads exactly `target.byteLength` bytes starting at byte `position` of `fd` into `target`. Returns the
 * number of bytes actually read: less than requested only when the end of the file came first.
 * File-system errors (EIO, EBADF) propagate as Node errors.
 */
export function readAt(fd: number, target: Uint8Array, position: number): number {
  let done = 0;
  while (done < target.byteLength) {
    const want = Math.min(MAX_READ_CHUNK, target.byteLength - done);
    const got = readSync(fd, target, done, want, position + done);
    if (got === 0) break;
    done += got;
  }
  return done;
}

/** True when this machine stores multi-byte numbers little-endian (all common targets; files are LE). */
export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the byte order of each `width`-byte element of `bytes` in place (for big-endian hosts). */
export function swapBytesInPlace(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let start = 0; start + width <= bytes.length; start += width) {
    for (let i = 0, j = width - 1; i < j; i++, j--) {
      const t = bytes[start + i];
      bytes[start + i] = bytes[start + j];
      bytes[start + j] = t;
    }
  }
}
