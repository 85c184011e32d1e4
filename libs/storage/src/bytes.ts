import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

/** Size and SHA-256 of bytes as they stream past. */
export class Digest {
  #hash: Hash = createHash('sha256');
  size = 0;

  update(chunk: Buffer): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
  }

  hex(): string {
    return this.#hash.digest('hex');
  }
}

/** The body as a sequence of Buffers, whichever form it was given in. */
export async function* bytesOf(body: Buffer | Readable): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(body)) {
    yield body;
    return;
  }
  for await (const chunk of body as AsyncIterable<unknown>) {
    if (Buffer.isBuffer(chunk)) yield chunk;
    else if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else if (chunk instanceof Uint8Array)
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    else throw new UnderstudyError(ErrorCode.InvalidArgument, 'Object body must be a byte stream');
  }
}

/**
 * Regroups a byte stream into chunks of exactly `size` bytes, the last one shorter, so a short
 * chunk always means the end. Holds at most one chunk (plus the source's read-ahead) in memory.
 */
export async function* chunksOf(
  source: AsyncIterable<Buffer>,
  size: number,
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let filled = 0;
  for await (let chunk of source) {
    while (filled + chunk.length >= size) {
      const take = size - filled;
      // A large Buffer body is sliced without copying.
      yield filled === 0
        ? chunk.subarray(0, take)
        : Buffer.concat([...pending, chunk.subarray(0, take)]);
      pending = [];
      filled = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length > 0) {
      pending.push(chunk);
      filled += chunk.length;
    }
  }
  if (filled > 0) yield Buffer.concat(pending, filled);
}

/** Tears down a body stream a failed put did not finish reading, releasing its file or socket. */
export function discard(body: Buffer | Readable): void {
  if (!Buffer.isBuffer(body)) body.destroy();
}
