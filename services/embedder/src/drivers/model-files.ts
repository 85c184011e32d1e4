import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import type { ObjectStore } from '@understudy/storage';

/** Where a model folder or a table lives: a local path, or objects in an object store bucket. */
export type Location =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'object'; readonly bucket: string; readonly key: string };

/** `/abs/path` or `s3://bucket/key` (for a folder, the key is its prefix). */
export function parseLocation(text: string): Location | undefined {
  if (text.startsWith('/')) return { kind: 'path', path: text };
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(text);
  return match?.[1] === undefined || match[2] === undefined
    ? undefined
    : { kind: 'object', bucket: match[1], key: match[2] };
}

export function describeLocation(location: Location): string {
  return location.kind === 'path' ? location.path : `s3://${location.bucket}/${location.key}`;
}

/** The location's last segment, e.g. `all-MiniLM-L6-v2` for `s3://models/all-MiniLM-L6-v2/`. */
export function locationName(location: Location): string {
  const path = location.kind === 'path' ? location.path : location.key;
  return (
    path
      .split('/')
      .filter((segment) => segment !== '')
      .at(-1) ?? ''
  );
}

/** Opens the store of a bucket (the service's S3 settings with that bucket). */
export type StoreOpener = (bucket: string) => Promise<ObjectStore>;

/** The bytes of one file. */
export async function readLocation(location: Location, open: StoreOpener): Promise<Uint8Array> {
  if (location.kind === 'path') return readFile(location.path);
  const store = await open(location.bucket);
  return verified(store, location.key);
}

/**
 * A local folder holding the files of `location`: the folder itself, or a copy of the objects
 * under the prefix, downloaded once into `cacheDir` (keyed by the objects' keys and digests, so
 * a changed model downloads anew) and checked against the digests the store recorded.
 */
export async function localFolder(
  location: Location,
  open: StoreOpener,
  cacheDir: string,
): Promise<string> {
  if (location.kind === 'path') return location.path;
  const store = await open(location.bucket);
  const prefix = location.key.endsWith('/') ? location.key : `${location.key}/`;
  const objects: { key: string; sha256: string }[] = [];
  for await (const entry of store.list(prefix, { recursive: true })) {
    if (entry.type !== 'object') continue;
    objects.push({ key: entry.key, sha256: (await store.stat(entry.key)).sha256 ?? entry.etag });
  }
  if (objects.length === 0) {
    throw new UnderstudyError(
      ErrorCode.NotFound,
      `no model files under ${describeLocation(location)}`,
    );
  }
  const digest = createHash('sha256')
    .update(JSON.stringify([location.bucket, objects]))
    .digest('hex')
    .slice(0, 16);
  const folder = join(cacheDir, `${locationName(location)}-${digest}`);
  if (await exists(join(folder, '.complete'))) return folder;
  // Downloaded beside the target and renamed into place, so a cut-off download never looks complete.
  const staging = `${folder}.partial-${String(process.pid)}`;
  await rm(staging, { recursive: true, force: true });
  try {
    for (const { key } of objects) {
      const target = join(staging, key.slice(prefix.length));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, await verified(store, key));
    }
    await writeFile(join(staging, '.complete'), '');
    await rename(staging, folder).catch(async (error: unknown) => {
      // Another process won the race: its copy is as good.
      if (!(await exists(join(folder, '.complete')))) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return folder;
}

/** An object's bytes, refused when they do not match the SHA-256 the store recorded at put. */
async function verified(store: ObjectStore, key: string): Promise<Uint8Array> {
  const [{ sha256 }, bytes] = await Promise.all([store.stat(key), store.get(key).then(buffer)]);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== undefined && sha256 !== actual) {
    throw new UnderstudyError(ErrorCode.DataLoss, `${key}: sha256 ${actual}, stored ${sha256}`);
  }
  return bytes;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
