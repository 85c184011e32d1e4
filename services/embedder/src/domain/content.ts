import { Role, type CallContent, type ChatMessage, type MessagePart } from '@understudy/contracts';

/**
 * The system instructions: the template a task's calls share. Given apart
 * (`system_instructions`) or as system/developer messages, depending on the source.
 */
export function systemText(content: CallContent): string {
  const messages = content.inputMessages.filter(
    (message) => message.role === Role.SYSTEM || message.role === Role.DEVELOPER,
  );
  return [...content.systemInstructions, ...messages.flatMap((message) => message.parts)]
    .map(partText)
    .filter((text) => text !== '')
    .join('\n');
}

/**
 * What varies between calls of one task: the users' messages and the tool results, in order. The
 * template (system instructions) is left out so that it does not pull different tasks together,
 * and the model's own turns are left out because live calls have no output yet.
 *
 * Past `budget` characters every part is clipped to a fair share (the short ones whole, the long
 * ones to what is left, each keeping its beginning), so that one long tool result cannot push the
 * user's request out of what the model reads.
 */
export function varyingText(content: CallContent, budget = Infinity): string {
  const parts = content.inputMessages.flatMap(varyingParts).filter((text) => text !== '');
  return clipFairly(parts, budget).join('\n');
}

/** Clips `parts` so that they add up to at most `budget` characters, the longest ones first. */
export function clipFairly(parts: readonly string[], budget: number): string[] {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  if (total <= budget) return [...parts];
  // Water-filling: the share of a part is what is left divided among the parts not yet placed.
  const byLength = parts.map((part, index) => ({ index, length: part.length }));
  byLength.sort((a, b) => a.length - b.length);
  const shares = new Array<number>(parts.length).fill(0);
  let left = Math.max(0, budget);
  byLength.forEach(({ index, length }, rank) => {
    const share = Math.min(length, Math.floor(left / (parts.length - rank)));
    shares[index] = share;
    left -= share;
  });
  return parts.map((part, index) => part.slice(0, shares[index])).filter((part) => part !== '');
}

function varyingParts(message: ChatMessage): string[] {
  if (message.role === Role.USER || message.role === Role.TOOL) return message.parts.map(partText);
  // Tool results sometimes travel in other roles' messages (e.g. Anthropic's user turns).
  return message.parts.filter((part) => part.kind.case === 'toolCallResponse').map(partText);
}

function partText(part: MessagePart): string {
  switch (part.kind.case) {
    case 'text':
      return part.kind.value.text;
    case 'toolCallResponse':
      return part.kind.value.response;
    case 'reasoning':
    case 'toolCall':
    case 'media':
    case 'refusal':
    case 'other':
    case undefined:
      return '';
  }
}
