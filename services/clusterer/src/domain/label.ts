import { ResponseFormatType, type StructuralSignature } from '@understudy/contracts';

/**
 * A readable label from the signature: agent, step, tools and output format. The clusterer
 * never sees call content (CallEmbedded carries vectors only), so content keywords cannot be
 * derived here.
 */
export function labelOf(signature: StructuralSignature): { label: string; keywords: string[] } {
  const where = [signature.agentName, signature.stepName].filter((part) => part !== '');
  const tools = signature.toolNames;
  const format = {
    [ResponseFormatType.JSON_SCHEMA]: `JSON ${signature.responseSchemaHash.slice(0, 8)}`,
    [ResponseFormatType.JSON_OBJECT]: 'JSON',
  }[signature.responseFormat as number];
  const label = [
    where.length > 0 ? where.join(' / ') : `signature ${signature.digest.slice(0, 8)}`,
    tools.length > 0 ? `tools: ${tools.join(', ')}` : '',
    format === undefined ? '' : `answers ${format}`,
  ]
    .filter((part) => part !== '')
    .join(' · ');
  return { label, keywords: [...new Set([...where, ...tools])] };
}
