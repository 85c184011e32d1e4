import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { parseRedactionRules } from './rules.js';

function problemsOf(json: unknown): string[] {
  try {
    parseRedactionRules(json);
  } catch (error) {
    expect(error).toBeInstanceOf(UnderstudyError);
    expect((error as UnderstudyError).code).toBe(ErrorCode.InvalidArgument);
    return (error as UnderstudyError).details['problems'] as string[];
  }
  throw new Error('the rules were accepted');
}

describe('parseRedactionRules', () => {
  it('accepts a rules file and an empty one', () => {
    const json = {
      patterns: [{ entity: 'EMPLOYEE_ID', regex: '\\bE-\\d{6}\\b', flags: 'i' }],
      allow: ['support@acme.io', { regex: '.*@acme\\.io' }],
      disable: ['PHONE_NUMBER'],
    };
    expect(parseRedactionRules(json)).toEqual(json);
    expect(parseRedactionRules({})).toEqual({});
  });

  it('names every bad entry at once', () => {
    expect(
      problemsOf({
        patterns: [
          { entity: 'employee id', regex: 'E-\\d+' },
          { entity: 'BAD_REGEX', regex: '(unclosed' },
          { entity: 'EMPTY', regex: 'x*' },
          { entity: 'FLAGS', regex: 'x', flags: 'g' },
          'E-\\d+',
        ],
        allow: ['', 42, { regex: '[' }],
        disable: ['NAME'],
        patern: [],
      }),
    ).toEqual([
      'patern is not a rules setting (patterns, allow, disable)',
      'patterns[0].entity must be an upper-case name such as EMPLOYEE_ID',
      expect.stringMatching(/^patterns\[1\]\.regex does not compile: /),
      'patterns[2].regex matches the empty string',
      'patterns[3].flags may only hold the flags i, m, s, u and v',
      'patterns[4] must be an object with entity and regex',
      'allow[0] must not be empty',
      'allow[1] must be a string (an exact value) or an object with a regex',
      expect.stringMatching(/^allow\[2\]\.regex does not compile: /),
      expect.stringMatching(/^disable\[0\] must be one of PRIVATE_KEY, JWT, API_KEY, SECRET, /),
    ]);
  });

  it('rejects what is not an object or has lists of the wrong type', () => {
    expect(problemsOf([])).toEqual([
      'rules must be a JSON object with patterns, allow and disable',
    ]);
    expect(problemsOf({ patterns: {} })).toEqual(['patterns must be an array']);
  });

  it('puts the problems in the message', () => {
    expect(() => parseRedactionRules({ allow: [''] })).toThrow(
      'invalid redaction rules: allow[0] must not be empty',
    );
  });
});
