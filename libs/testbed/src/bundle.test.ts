import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { bundleService } from './bundle.js';

describe('bundleService', () => {
  it('refuses a folder outside the package, where its npm packages could not be found', async () => {
    const entries = { service: 'src/main.ts' };
    await expect(
      bundleService({ root: '/work/services/x', entries, outDir: '/tmp/x-bundle' }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(
      bundleService({ root: '/work/services/x', entries, outDir: '/work/services/x' }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});
