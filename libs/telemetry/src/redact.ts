/** What a secret's value becomes in a log line. */
export const censor = '[redacted]';

/**
 * Field names (lower case, separators removed) whose values are secret wherever they sit.
 * Suffixes catch the compound names configs grow (`dbPassword`, `hfToken`, `webhookSecret`)
 * without a list per service; `key` alone is deliberately absent because S3 object keys are not
 * secrets and operators need them in logs.
 */
const secretNames = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'credentials',
  'passwd',
  'pwd',
  'xunderstudykey',
]);
const secretSuffixes = [
  'password',
  'secret',
  'token',
  'apikey',
  'accesskey',
  'secretkey',
  'privatekey',
];

export function isSecretName(name: string): boolean {
  const normalised = name.toLowerCase().replace(/[-_.\s]/g, '');
  return (
    secretNames.has(normalised) || secretSuffixes.some((suffix) => normalised.endsWith(suffix))
  );
}

// Connection strings (`postgres://user:pass@host/db`) carry passwords in fields named `url`.
const urlCredentials = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s/@]+@/gi;

function scrubString(value: string): string {
  return value.includes('@') && value.includes('://')
    ? value.replace(urlCredentials, `$1:${censor}@`)
    : value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// Deep enough for a service's boot config; bounded so a cyclic or huge object cannot stall a log call.
const maxDepth = 8;

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object' || depth >= maxDepth) return value;
  if (Array.isArray(value)) {
    const items: readonly unknown[] = value;
    let copy: unknown[] | undefined;
    items.forEach((item, index) => {
      const redacted = redactValue(item, depth + 1);
      if (redacted !== item) (copy ??= [...items])[index] = redacted;
    });
    return copy ?? items;
  }
  return isPlainObject(value) ? redactObject(value, depth) : value;
}

function redactObject(fields: Record<string, unknown>, depth: number): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(fields)) {
    // A flag such as `{ secret: true }` says something is secret; it is not the secret itself.
    const secret = isSecretName(key) && item != null && typeof item !== 'boolean';
    const redacted = secret ? censor : redactValue(item, depth + 1);
    if (redacted !== item) (copy ??= { ...fields })[key] = redacted;
  }
  return copy ?? fields;
}

/**
 * Returns `fields` with secrets censored, copying only the objects that change so the common case
 * (nothing secret) allocates nothing. Class instances such as errors are left to pino's serializers.
 */
export function redactSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  return redactObject(fields, 0);
}
