import type { IncomingHttpHeaders } from 'node:http';

/**
 * The API key a client presented: `Authorization: Bearer <key>` (what OpenAI clients and OTLP
 * exporters send) or `x-understudy-key: <key>`.
 */
export function apiKeyOf(headers: IncomingHttpHeaders): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '')?.[1];
  const header = headers['x-understudy-key'];
  return bearer ?? (typeof header === 'string' && header !== '' ? header : undefined);
}
