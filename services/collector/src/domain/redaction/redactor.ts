import { createHash, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { builtInDetectors, regexDetector, type Detector, type Finding } from './detectors.js';
import type { AllowEntry, RedactionRules } from './rules.js';

/** Bumped whenever a change to the detectors can change what gets redacted. */
export const redactorName = 'understudy-pii@1.0.0';

/** The fields of the RedactionReport contract message (calls.proto). */
export interface RedactionReportInit {
  readonly redactorVersion: string;
  /** Occurrences replaced, per entity type. */
  readonly entityCounts: Record<string, number>;
  /** Distinct placeholders written, in order of first appearance. */
  readonly placeholders: string[];
}

/** A detected entity: [start, end) in UTF-16 code units. */
export interface DetectedEntity {
  readonly start: number;
  readonly end: number;
  readonly entity: string;
}

/** Redaction of everything one call (or one fragment) carries, for one tenant. */
export interface RedactionSession {
  /** The value with each detected entity replaced by its placeholder. */
  text(value: string): string;
  /** What this session has replaced so far. */
  report(): RedactionReportInit;
}

export interface Redactor {
  /** `understudy-pii@<version>`, with `+rules.<hash>` when custom rules are in force. */
  readonly version: string;
  /** What would be redacted in a text, after overlaps and the allow-list are resolved. */
  detect(text: string): DetectedEntity[];
  session(tenantId: string): RedactionSession;
}

export interface RedactorOptions {
  /** The collector's redaction secret, at least 32 bytes; tenant keys are derived from it. */
  readonly secret: Uint8Array;
  readonly rules?: RedactionRules;
}

const minSecretBytes = 32;

/** What equal values look like before hashing, so that `Jane@X.io` and `jane@x.io` match. */
function canonical(entity: string, value: string): string {
  switch (entity) {
    case 'EMAIL':
    case 'IP_ADDRESS':
      return value.toLowerCase();
    case 'PHONE_NUMBER': {
      // `+1 415 555 0132` and `(415) 555-0132` are one number: NANP's country code is 1.
      const digits = value.replace(/\D/g, '');
      return digits.length === 11 && digits.startsWith('1') ? digits.slice(1) : digits;
    }
    case 'CREDIT_CARD':
    case 'US_SSN':
      return value.replace(/\D/g, '');
    case 'IBAN':
      return value.replace(/\s/g, '').toUpperCase();
    default:
      return value;
  }
}

function allowTest(allow: readonly AllowEntry[]): (value: string) => boolean {
  const exact = new Set(allow.filter((entry) => typeof entry === 'string'));
  const patterns = allow
    .filter((entry) => typeof entry !== 'string')
    .map((entry) => new RegExp(`^(?:${entry.regex})$`, entry.flags ?? ''));
  return (value) => exact.has(value) || patterns.some((pattern) => pattern.test(value));
}

/**
 * Finds what to redact. Every detector scans the whole text; where findings overlap, the
 * earlier detector wins, then the longer finding. Allowed values still claim their span, so
 * nothing inside an allowed value is redacted by a weaker detector.
 */
function detector(
  detectors: readonly Detector[],
  allowed: (value: string) => boolean,
): (text: string) => DetectedEntity[] {
  return (text) => {
    const found: Finding[] = [];
    detectors.forEach((d, rank) => {
      d.find(text, rank, found);
    });
    if (found.length === 0) return [];
    found.sort(
      (a, b) => a.rank - b.rank || b.end - b.start - (a.end - a.start) || a.start - b.start,
    );
    const claimed = new Uint8Array(text.length);
    const kept: DetectedEntity[] = [];
    for (const { start, end, rank } of found) {
      if (claimed.subarray(start, end).includes(1)) continue;
      claimed.fill(1, start, end);
      const entity = detectors[rank]?.entity ?? '';
      if (!allowed(text.slice(start, end))) kept.push({ start, end, entity });
    }
    return kept.sort((a, b) => a.start - b.start);
  };
}

function rulesTag(rules: RedactionRules | undefined): string {
  const empty =
    (rules?.patterns?.length ?? 0) + (rules?.allow?.length ?? 0) + (rules?.disable?.length ?? 0);
  if (rules === undefined || empty === 0) return '';
  return `+rules.${createHash('sha256').update(JSON.stringify(rules)).digest('hex').slice(0, 8)}`;
}

/**
 * A redactor with the built-in detectors and the operator's rules. Placeholders are
 * `<ENTITY_xxxxxxxx>`: the first 8 hex digits of HMAC-SHA256(tenant key, `ENTITY\0value`), the
 * tenant key being HKDF-SHA256 of the collector secret with the tenant id as info. The same
 * value thus gets the same placeholder in every call of a tenant, and a different one in
 * every other tenant, without the placeholder revealing the value.
 */
export function createRedactor(options: RedactorOptions): Redactor {
  if (options.secret.length < minSecretBytes) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      `the redaction secret must be at least ${minSecretBytes} bytes`,
    );
  }
  const secret = Buffer.from(options.secret);
  const { patterns = [], allow = [], disable = [] } = options.rules ?? {};
  const detectors: Detector[] = [
    ...patterns.map((p) =>
      regexDetector(p.entity, new RegExp(p.regex, `${p.flags ?? ''}g`), undefined, true),
    ),
    ...builtInDetectors.filter((d) => !disable.includes(d.entity)),
  ];
  const detect = detector(detectors, allowTest(allow));
  const version = redactorName + rulesTag(options.rules);
  // HKDF once per tenant: sessions are per call, tenants are few.
  const tenantKeys = new Map<string, KeyObject>();
  const keyOf = (tenantId: string): KeyObject => {
    let key = tenantKeys.get(tenantId);
    if (key === undefined) {
      const bytes = hkdfSync('sha256', secret, 'understudy/redaction/v1', tenantId, 32);
      key = createSecretKey(new Uint8Array(bytes));
      tenantKeys.set(tenantId, key);
    }
    return key;
  };

  return {
    version,
    detect,
    session(tenantId) {
      const key = keyOf(tenantId);
      const placeholders = new Map<string, string>();
      const counts: Record<string, number> = {};
      const placeholderOf = (entity: string, value: string): string => {
        const id = `${entity}\0${canonical(entity, value)}`;
        let placeholder = placeholders.get(id);
        if (placeholder === undefined) {
          const hash = createHmac('sha256', key).update(id).digest('hex').slice(0, 8);
          placeholder = `<${entity}_${hash}>`;
          placeholders.set(id, placeholder);
        }
        counts[entity] = (counts[entity] ?? 0) + 1;
        return placeholder;
      };
      return {
        text(value) {
          const entities = detect(value);
          if (entities.length === 0) return value;
          let out = '';
          let at = 0;
          for (const { start, end, entity } of entities) {
            out += value.slice(at, start) + placeholderOf(entity, value.slice(start, end));
            at = end;
          }
          return out + value.slice(at);
        },
        report() {
          return {
            redactorVersion: version,
            entityCounts: { ...counts },
            placeholders: [...new Set(placeholders.values())],
          };
        },
      };
    },
  };
}
