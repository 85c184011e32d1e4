import { access, mkdir, rename, rm } from 'node:fs/promises';

/** Reports what preparing artifacts is doing; only called when there is work to do. */
export type Progress = (message: string) => void;

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Produces `target` (a file or folder): `build` fills a staging folder next to it and returns
 * what in there becomes the target, which is renamed into place, so an interrupted download or
 * build never looks complete. When parallel runs race, the first rename wins.
 */
export async function produce(
  target: string,
  build: (staging: string) => Promise<string>,
): Promise<void> {
  const staging = `${target}.partial-${String(process.pid)}`;
  await mkdir(staging, { recursive: true });
  try {
    const result = await build(staging);
    await rename(result, target).catch(async (error: unknown) => {
      if (!(await exists(target))) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}
