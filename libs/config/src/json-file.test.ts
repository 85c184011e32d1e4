import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { parseJsonFile, z } from './index.js';

const entries = z.array(z.strictObject({ name: z.string().min(1), size: z.number().int() }));
const parse = (json: string) =>
  parseJsonFile(json, '/etc/entries.json', entries, 'an entries file');

/** What `parse` threw, which must be an UnderstudyError. */
function refusal(json: string): UnderstudyError {
  try {
    parse(json);
  } catch (error) {
    expect(error).toBeInstanceOf(UnderstudyError);
    return error as UnderstudyError;
  }
  throw new Error(`parsed ${json}`);
}

describe('parseJsonFile', () => {
  it("returns the schema's output", () => {
    expect(parse('[{"name": "a", "size": 1}]')).toEqual([{ name: 'a', size: 1 }]);
  });

  it('names the file, not the text, when it is not JSON', () => {
    const error = refusal('[{"name": "hunter2"');
    expect(error).toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: '/etc/entries.json is not JSON',
    });
    // JSON.parse's message would quote the text; it is not kept as the cause either.
    expect(error.cause).toBeUndefined();
  });

  it('lists every problem by its path, without the values', () => {
    const error = refusal(
      '[{"name": "", "size": 1.5}, {"name": "b", "size": 1, "secret": "hunter2"}]',
    );
    expect(error.code).toBe(ErrorCode.InvalidArgument);
    expect(error.message).toMatch(
      /^\/etc\/entries\.json is not an entries file: 0\.name: .*; 0\.size: .*; 1: Unrecognized key: "secret"$/,
    );
    expect(error.message).not.toContain('hunter2');
    expect(refusal('{}').message).toMatch(/: \(root\): /);
  });
});
