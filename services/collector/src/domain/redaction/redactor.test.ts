import { createHmac, hkdfSync } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { RedactionReportSchema } from '@understudy/contracts';
import { ErrorCode } from '@understudy/errors';
import { describe, expect, it } from 'vitest';
import { createRedactor, redactorName } from './redactor.js';
import { parseRedactionRules } from './rules.js';

const secret = new TextEncoder().encode('a collector secret of 32 bytes or more');
const redactor = createRedactor({ secret });

describe('placeholders', () => {
  it('are the entity and the first 8 hex digits of HMAC-SHA256 under the HKDF tenant key', () => {
    const key = Buffer.from(hkdfSync('sha256', secret, 'understudy/redaction/v1', 'acme', 32));
    const hmac = createHmac('sha256', key).update('EMAIL\0jane@acme.io').digest('hex');
    expect(redactor.session('acme').text('mail jane@acme.io')).toBe(
      `mail <EMAIL_${hmac.slice(0, 8)}>`,
    );
  });

  it('are the same for one value across the sessions of a tenant, and its spellings', () => {
    const first = redactor.session('acme').text('jane@acme.io, +1 (415) 555-0132');
    const second = redactor.session('acme').text('JANE@ACME.IO, 415-555-0132');
    expect(second).toBe(first);
    expect(first).toMatch(/^<EMAIL_[0-9a-f]{8}>, <PHONE_NUMBER_[0-9a-f]{8}>$/);
  });

  it('differ across tenants and across values', () => {
    const text = 'jane@acme.io';
    expect(redactor.session('acme').text(text)).not.toBe(redactor.session('globex').text(text));
    const session = redactor.session('acme');
    expect(session.text('jane@acme.io')).not.toBe(session.text('john@acme.io'));
  });

  it('differ across collector secrets', () => {
    const other = createRedactor({
      secret: new TextEncoder().encode('another secret, also 32 bytes long'),
    });
    expect(other.session('acme').text('jane@acme.io')).not.toBe(
      redactor.session('acme').text('jane@acme.io'),
    );
  });

  it('are left alone when text is redacted twice', () => {
    const session = redactor.session('acme');
    const once = session.text('key AKIAIOSFODNN7EXAMPLE for jane@acme.io at 203.0.113.7');
    expect(session.text(once)).toBe(once);
  });
});

describe('report', () => {
  it('counts occurrences and lists distinct placeholders in order of appearance', () => {
    const session = redactor.session('acme');
    session.text('jane@acme.io wrote to john@acme.io');
    session.text('and jane@acme.io again from 203.0.113.7');
    const report = session.report();
    expect(report.redactorVersion).toBe(redactorName);
    expect(report.entityCounts).toEqual({ EMAIL: 3, IP_ADDRESS: 1 });
    expect(report.placeholders).toHaveLength(3);
    expect(report.placeholders[0]).toBe(redactor.session('acme').text('jane@acme.io'));
    // It is the contract message's init shape, and a snapshot.
    session.text('jane@acme.io');
    expect(create(RedactionReportSchema, report).entityCounts).toEqual({ EMAIL: 3, IP_ADDRESS: 1 });
    expect(session.report().entityCounts).toEqual({ EMAIL: 4, IP_ADDRESS: 1 });
  });

  it('is empty for text without entities, which comes back as it was', () => {
    const session = redactor.session('acme');
    const text = 'The agent summarised the ticket and closed it.';
    expect(session.text(text)).toBe(text);
    expect(session.report()).toEqual({
      redactorVersion: redactorName,
      entityCounts: {},
      placeholders: [],
    });
  });
});

describe('rules', () => {
  const rules = parseRedactionRules({
    patterns: [
      { entity: 'EMPLOYEE_ID', regex: '\\bE-\\d{6}\\b' },
      // Overlaps a built-in finding (the e-mail): the operator's pattern wins.
      { entity: 'STAFF_EMAIL', regex: '[a-z.]+@staff\\.acme\\.io', flags: 'i' },
    ],
    allow: ['support@acme.io', { regex: '.*@example\\.com', flags: 'i' }, 'E-000000'],
    disable: ['IP_ADDRESS'],
  });
  const custom = createRedactor({ secret, rules });
  const found = (text: string): [string, string][] =>
    custom.detect(text).map((e) => [e.entity, text.slice(e.start, e.end)]);

  it('add custom entities that win over built-in ones', () => {
    expect(found('E-123456 is Jane.Doe@staff.acme.io')).toEqual([
      ['EMPLOYEE_ID', 'E-123456'],
      ['STAFF_EMAIL', 'Jane.Doe@staff.acme.io'],
    ]);
    expect(custom.session('acme').text('badge E-123456')).toMatch(
      /^badge <EMPLOYEE_ID_[0-9a-f]{8}>$/,
    );
  });

  it('allow exact values and whole-value regexes, over every detector', () => {
    expect(found('support@acme.io, Bob@Example.com, E-000000, jane@acme.io')).toEqual([
      ['EMAIL', 'jane@acme.io'],
    ]);
    // The regex must match the whole value: a longer address that contains it is redacted.
    expect(found('bob@example.com.evil.io')).toEqual([['EMAIL', 'bob@example.com.evil.io']]);
  });

  it('disable built-in entities', () => {
    expect(found('from 203.0.113.7')).toEqual([]);
  });

  it('are named in the version, so that reports say which rules ran', () => {
    expect(custom.version).toMatch(/^understudy-pii@1\.0\.0\+rules\.[0-9a-f]{8}$/);
    expect(createRedactor({ secret, rules: {} }).version).toBe(redactorName);
  });
});

describe('createRedactor', () => {
  it('rejects a short secret', () => {
    expect(() => createRedactor({ secret: new Uint8Array(31) })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }),
    );
  });
});
