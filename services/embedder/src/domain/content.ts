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
 * What varies between calls of one task: the users' messages and the tool results. The
 * template (system instructions) is left out so that it does not pull different tasks
 * together, and the model's own turns are left out because live calls have no output yet.
 */
export function varyingText(content: CallContent): string {
  return content.inputMessages
    .flatMap(varyingParts)
    .filter((text) => text !== '')
    .join('\n');
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
