import { randomUUID } from 'node:crypto';
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rmdir,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { silentLogger, type Logger } from '@understudy/telemetry';
import { bytesOf, Digest } from './bytes.js';
import { Instruments } from './instruments.js';
import type {
  ByteRange,
  ListEntry,
  ListOptions,
  ObjectStat,
  ObjectStore,
  PutOptions,
  PutResult,
} from './object-store.js';
import {
  DEFAULT_CONTENT_TYPE,
  validateKey,
  validatePrefix,
  validatePutOptions,
  validateRange,
} from './validation.js';

export interface FilesystemDriverOptions {
  /** Directory that holds everything; created by init(). */
  readonly root: string;
  readonly logger?: Logger;
}

/** What the sidecar of an object records; the sidecar's presence is what makes the object exist. */
interface Sidecar {
  readonly blob: string;
  readonly size: number;
  readonly sha256: string;
  readonly contentType: string;
  readonly metadata: Record<string, string>;
  readonly lastModified: string;
}

// Names inside the key tree carry a kind marker, so the object `a` and the objects under `a/`
// never collide however their segments are spelled.
const DIR = 'd.';
const SIDECAR = 'm.';
const TEMP = 't.';

/**
 * Objects as files under one directory, for the embedded single-machine mode and tests.
 *
 * Layout: `blobs/<uuid>` holds content; `keys/` mirrors the key's segments (`d.<segment>`
 * directories) down to a sidecar `m.<name>` with the metadata and the blob's name. A put writes
 * and fsyncs a new blob and a temporary sidecar, then renames the sidecar into place: the rename
 * is the commit, so a crash leaves the old object or the new one, never half of one. Readers
 * that lose a race with an overwrite retry on the new sidecar; an open blob stays readable after
 * it is unlinked. Writes to one key are serialised per instance, so use one instance per root:
 * two processes overwriting the same key at once can leave an unreferenced blob (never a wrong
 * object), as can a crash mid-put.
 */
export class FilesystemDriver implements ObjectStore {
  readonly #root: string;
  readonly #keys: string;
  readonly #blobs: string;
  readonly #logger: Logger;
  readonly #instruments = new Instruments('filesystem', fromFilesystemError, false);
  /** Commits to one key are serialised so an overwrite always unlinks the blob it replaced. */
  readonly #commits = new Map<string, Promise<void>>();

  constructor(options: FilesystemDriverOptions) {
    this.#root = options.root;
    this.#keys = join(options.root, 'keys');
    this.#blobs = join(options.root, 'blobs');
    this.#logger = (options.logger ?? silentLogger).child({ component: 'storage.filesystem' });
  }

  async init(): Promise<void> {
    await this.#instruments.measure('init', undefined, async () => {
      await mkdir(this.#keys, { recursive: true });
      await mkdir(this.#blobs, { recursive: true });
      this.#logger.info({ root: this.#root }, 'Filesystem object store ready');
    });
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions = {}): Promise<PutResult> {
    return this.#instruments.measurePut(key, body, () => this.#put(key, body, options));
  }

  async #put(key: string, body: Buffer | Readable, options: PutOptions): Promise<PutResult> {
    validateKey(key);
    validatePutOptions(options);
    const blob = join(this.#blobs, randomUUID());
    const digest = new Digest();
    try {
      await writeDurably(blob, bytesOf(body), digest);
    } catch (error) {
      await removeFile(blob);
      throw error;
    }
    const sidecar: Sidecar = {
      blob: basename(blob),
      size: digest.size,
      sha256: digest.hex(),
      contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      metadata: { ...options.metadata },
      lastModified: new Date().toISOString(),
    };
    await this.#commit(key, sidecar);
    return { key, size: sidecar.size, sha256: sidecar.sha256, etag: sidecar.sha256 };
  }

  async get(key: string): Promise<Readable> {
    return this.#instruments.measure('get', key, () => this.#read(key));
  }

  async getRange(key: string, range: ByteRange): Promise<Readable> {
    return this.#instruments.measure('get', key, () => this.#read(key, range));
  }

  async #read(key: string, range?: ByteRange): Promise<Readable> {
    validateKey(key);
    if (range !== undefined) validateRange(range);
    const { sidecar, handle } = await this.#openBlob(key);
    if (range === undefined) return this.#instruments.reader(handle.createReadStream());
    // From 0 without a length means the whole object, even an empty one (as an S3 GET does).
    if (range.offset >= sidecar.size && (range.offset > 0 || range.length !== undefined)) {
      await handle.close();
      throw new UnderstudyError(
        ErrorCode.OutOfRange,
        `Offset ${range.offset} is past the end of ${key} (${sidecar.size} bytes)`,
        { details: { key, offset: range.offset, size: sidecar.size } },
      );
    }
    const end = range.length === undefined ? {} : { end: range.offset + range.length - 1 };
    return this.#instruments.reader(handle.createReadStream({ start: range.offset, ...end }));
  }

  async stat(key: string): Promise<ObjectStat> {
    return this.#instruments.measure('stat', key, async () => {
      validateKey(key);
      const sidecar = await this.#readSidecar(key);
      if (sidecar === undefined) throw notFound(key);
      return {
        key,
        size: sidecar.size,
        sha256: sidecar.sha256,
        etag: sidecar.sha256,
        contentType: sidecar.contentType,
        lastModified: new Date(sidecar.lastModified),
        metadata: sidecar.metadata,
      };
    });
  }

  async exists(key: string): Promise<boolean> {
    return this.#instruments.measure('stat', key, async () => {
      validateKey(key);
      return (await this.#readSidecar(key)) !== undefined;
    });
  }

  async delete(key: string): Promise<void> {
    await this.#instruments.measure('delete', key, async () => {
      validateKey(key);
      await this.#serialised(key, async () => {
        const { dir, name } = this.#locate(key);
        // Taking the sidecar out of place first makes the delete atomic, like the put.
        const taken = join(dir, TEMP + randomUUID());
        try {
          await rename(join(dir, SIDECAR + name), taken);
        } catch (error) {
          if (isMissing(error)) return;
          throw error;
        }
        const sidecar = parseSidecar(await readFile(taken, 'utf8'));
        await syncDirectory(dir);
        await removeFile(taken);
        await removeFile(join(this.#blobs, sidecar.blob));
        await this.#prune(dir);
      });
    });
  }

  list(prefix: string, options: ListOptions = {}): AsyncIterable<ListEntry> {
    return this.#instruments.measureList(prefix, this.#list(prefix, options.recursive ?? false));
  }

  async *#list(prefix: string, recursive: boolean): AsyncGenerator<ListEntry> {
    validatePrefix(prefix);
    const cut = prefix.lastIndexOf('/') + 1;
    const parent = prefix.slice(0, cut);
    const segments = parent === '' ? [] : parent.slice(0, -1).split('/');
    const dir = join(this.#keys, ...segments.map((segment) => DIR + segment));
    yield* this.#walk(dir, parent, prefix.slice(cut), recursive);
  }

  /** Entries of one directory in key order: a directory `x` sorts as `x/` among its siblings. */
  async *#walk(
    dir: string,
    keyPrefix: string,
    namePrefix: string,
    recursive: boolean,
  ): AsyncGenerator<ListEntry> {
    const children = (await readDirectory(dir))
      .flatMap((entry) => {
        const kind = entry.slice(0, 2);
        const name = entry.slice(2);
        if ((kind !== DIR && kind !== SIDECAR) || !name.startsWith(namePrefix)) return [];
        return [{ kind, name, order: Buffer.from(kind === DIR ? `${name}/` : name, 'utf8') }];
      })
      .sort((a, b) => Buffer.compare(a.order, b.order));
    for (const child of children) {
      const path = join(dir, child.kind + child.name);
      if (child.kind === SIDECAR) {
        const sidecar = await readSidecarFile(path);
        // Deleted since the directory was read.
        if (sidecar === undefined) continue;
        yield {
          type: 'object',
          key: keyPrefix + child.name,
          size: sidecar.size,
          etag: sidecar.sha256,
          lastModified: new Date(sidecar.lastModified),
        };
      } else if (recursive) {
        yield* this.#walk(path, `${keyPrefix}${child.name}/`, '', true);
      } else if (await this.#holdsObject(path)) {
        yield { type: 'prefix', prefix: `${keyPrefix}${child.name}/` };
      }
    }
  }

  /** A directory can be left empty for a moment by a concurrent delete; S3 shows no prefix then. */
  async #holdsObject(dir: string): Promise<boolean> {
    for await (const entry of this.#walk(dir, '', '', true)) {
      if (entry.type === 'object') return true;
    }
    return false;
  }

  #locate(key: string): { dir: string; name: string } {
    const segments = key.split('/');
    const name = segments.pop() ?? key;
    return { dir: join(this.#keys, ...segments.map((segment) => DIR + segment)), name };
  }

  async #readSidecar(key: string): Promise<Sidecar | undefined> {
    const { dir, name } = this.#locate(key);
    return readSidecarFile(join(dir, SIDECAR + name));
  }

  /** Opens the blob a sidecar names, retrying when an overwrite or delete removed it meanwhile. */
  async #openBlob(key: string): Promise<{ sidecar: Sidecar; handle: FileHandle }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const sidecar = await this.#readSidecar(key);
      if (sidecar === undefined) throw notFound(key);
      try {
        return { sidecar, handle: await open(join(this.#blobs, sidecar.blob), 'r') };
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    throw new UnderstudyError(ErrorCode.Aborted, `Object ${key} kept changing while being opened`, {
      details: { key },
    });
  }

  /** Puts the sidecar in place; until the rename succeeds the new blob is unreferenced and removed on failure. */
  async #commit(key: string, sidecar: Sidecar): Promise<void> {
    const { dir, name } = this.#locate(key);
    const target = join(dir, SIDECAR + name);
    await this.#serialised(key, async () => {
      const temp = join(dir, TEMP + randomUUID());
      let replaced: Sidecar | undefined;
      try {
        await this.#writeSidecar(dir, temp, sidecar);
        replaced = await readSidecarFile(target);
        await rename(temp, target);
      } catch (error) {
        await removeFile(temp);
        await removeFile(join(this.#blobs, sidecar.blob));
        throw error;
      }
      await syncDirectory(dir);
      if (replaced !== undefined) await removeFile(join(this.#blobs, replaced.blob));
    });
  }

  async #writeSidecar(dir: string, temp: string, sidecar: Sidecar): Promise<void> {
    const content = [Buffer.from(JSON.stringify(sidecar), 'utf8')];
    // A concurrent delete may prune the directory between mkdir and the write: try again.
    for (let attempt = 1; ; attempt++) {
      await mkdir(dir, { recursive: true });
      try {
        await writeDurably(temp, content);
        return;
      } catch (error) {
        if (!isMissing(error) || attempt === 3) throw error;
      }
    }
  }

  async #serialised(key: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#commits.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const settled = current.catch(() => undefined);
    this.#commits.set(key, settled);
    try {
      await current;
    } finally {
      if (this.#commits.get(key) === settled) this.#commits.delete(key);
    }
  }

  /** Removes directories emptied by a delete, up to the key tree's root. */
  async #prune(dir: string): Promise<void> {
    for (let current = dir; current !== this.#keys; current = join(current, '..')) {
      try {
        await rmdir(current);
      } catch {
        // Not empty (or already gone): the directories above are not empty either.
        return;
      }
    }
  }
}

async function writeDurably(
  path: string,
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  digest?: Digest,
): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    for await (const chunk of chunks) {
      digest?.update(chunk);
      for (let written = 0; written < chunk.length;) {
        written += (await handle.write(chunk, written)).bytesWritten;
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename in `dir` survive a power loss. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readDirectory(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

async function readSidecarFile(path: string): Promise<Sidecar | undefined> {
  try {
    return parseSidecar(await readFile(path, 'utf8'));
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function parseSidecar(text: string): Sidecar {
  return JSON.parse(text) as Sidecar;
}

async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
}

function isMissing(error: unknown): boolean {
  const code = errnoOf(error);
  // ENOTDIR: a key segment names an object file's parent that is not a directory.
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

function notFound(key: string): UnderstudyError {
  return new UnderstudyError(ErrorCode.NotFound, `No object at ${key}`, { details: { key } });
}

const byErrno: Readonly<Record<string, ErrorCode>> = {
  EACCES: ErrorCode.PermissionDenied,
  EPERM: ErrorCode.PermissionDenied,
  EROFS: ErrorCode.PermissionDenied,
  ENOSPC: ErrorCode.ResourceExhausted,
  EDQUOT: ErrorCode.ResourceExhausted,
  EMFILE: ErrorCode.ResourceExhausted,
  ENFILE: ErrorCode.ResourceExhausted,
};

function fromFilesystemError(error: unknown): UnderstudyError {
  if (error instanceof UnderstudyError) return error;
  const code = byErrno[errnoOf(error) ?? ''];
  if (code === undefined) return UnderstudyError.from(error);
  const message = error instanceof Error ? error.message : String(error);
  return new UnderstudyError(code, message, { cause: error });
}
