import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { builtInEntities } from './detectors.js';

/** An operator's own entity: `{ "entity": "EMPLOYEE_ID", "regex": "\\bE-\\d{6}\\b" }`. */
export interface CustomPattern {
  /** Upper-case name used in placeholders and reports. */
  readonly entity: string;
  /** JavaScript regex source; the whole match is replaced. */
  readonly regex: string;
  /** Any of `i`, `m`, `s`, `u`, `v`; the redactor adds `g` itself. */
  readonly flags?: string;
}

/**
 * A value never to redact: a string is an exact value; a regex must match the whole detected
 * value (`{ "regex": ".*@acme\\.example", "flags": "i" }`).
 */
export type AllowEntry = string | { readonly regex: string; readonly flags?: string };

export interface RedactionRules {
  /** Detected before the built-in entities, and winning where they overlap them. */
  readonly patterns?: readonly CustomPattern[];
  /** Wins over every detector, custom ones included. */
  readonly allow?: readonly AllowEntry[];
  /** Built-in entities to leave alone, e.g. `["IP_ADDRESS"]`. */
  readonly disable?: readonly string[];
}

const entityName = /^[A-Z][A-Z0-9_]{0,31}$/;
const allowedFlags = /^[imsuv]*$/;
const ruleKeys = new Set(['patterns', 'allow', 'disable']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects every problem in the rules, so that one failed boot names them all. */
class Problems {
  readonly list: string[] = [];

  add(path: string, problem: string): void {
    this.list.push(`${path} ${problem}`);
  }

  /** The compiled regex, or undefined after recording why it is unusable. */
  regex(path: string, entry: Record<string, unknown>): RegExp | undefined {
    const source = entry['regex'];
    const flags = entry['flags'] ?? '';
    if (typeof source !== 'string' || source === '') {
      this.add(`${path}.regex`, 'must be a non-empty string');
      return undefined;
    }
    if (typeof flags !== 'string' || !allowedFlags.test(flags)) {
      this.add(`${path}.flags`, 'may only hold the flags i, m, s, u and v');
      return undefined;
    }
    try {
      return new RegExp(source, flags);
    } catch (error) {
      this.add(`${path}.regex`, `does not compile: ${(error as Error).message}`);
      return undefined;
    }
  }
}

function checkPattern(problems: Problems, path: string, entry: unknown): void {
  if (!isRecord(entry)) {
    problems.add(path, 'must be an object with entity and regex');
    return;
  }
  const entity = entry['entity'];
  if (typeof entity !== 'string' || !entityName.test(entity)) {
    problems.add(`${path}.entity`, 'must be an upper-case name such as EMPLOYEE_ID');
  }
  const regex = problems.regex(path, entry);
  // A pattern that matches nothing at all would "find" an empty span at every position.
  if (regex?.test('') === true) problems.add(`${path}.regex`, 'matches the empty string');
}

function checkAllow(problems: Problems, path: string, entry: unknown): void {
  if (typeof entry === 'string') {
    if (entry === '') problems.add(path, 'must not be empty');
  } else if (isRecord(entry)) {
    problems.regex(path, entry);
  } else {
    problems.add(path, 'must be a string (an exact value) or an object with a regex');
  }
}

function listAt(problems: Problems, json: Record<string, unknown>, key: string): unknown[] {
  const value = json[key];
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  problems.add(key, 'must be an array');
  return [];
}

/**
 * Validates a rules file's parsed JSON. Throws one InvalidArgument error that names every bad
 * entry (`patterns[1].regex does not compile: …`).
 */
export function parseRedactionRules(json: unknown): RedactionRules {
  const problems = new Problems();
  if (!isRecord(json)) {
    problems.add('rules', 'must be a JSON object with patterns, allow and disable');
  } else {
    for (const key of Object.keys(json)) {
      if (!ruleKeys.has(key))
        problems.add(key, 'is not a rules setting (patterns, allow, disable)');
    }
    listAt(problems, json, 'patterns').forEach((entry, i) => {
      checkPattern(problems, `patterns[${i}]`, entry);
    });
    listAt(problems, json, 'allow').forEach((entry, i) => {
      checkAllow(problems, `allow[${i}]`, entry);
    });
    listAt(problems, json, 'disable').forEach((entry, i) => {
      if (typeof entry !== 'string' || !builtInEntities.includes(entry)) {
        problems.add(`disable[${i}]`, `must be one of ${builtInEntities.join(', ')}`);
      }
    });
  }
  if (problems.list.length > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `invalid redaction rules: ${problems.list.join('; ')}`,
      { details: { problems: problems.list } },
    );
  }
  return json as RedactionRules;
}
