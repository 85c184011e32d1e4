import type { ChatCompletion, ChatCompletionChunk, ToolCall, Usage } from './openai.js';

/**
 * Reads the `data:` payloads of a server-sent event stream fed in arbitrary pieces, the way
 * bytes arrive from the network.
 */
export class SseReader {
  #buffer = '';

  /** The data of every event completed by `text`. */
  feed(text: string): string[] {
    this.#buffer += text.replace(/\r\n?/g, '\n');
    const events = this.#buffer.split('\n\n');
    this.#buffer = events.pop() ?? '';
    return events.flatMap((event) => {
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      return data.length === 0 ? [] : [data.join('\n')];
    });
  }
}

interface ChoiceState {
  content: string;
  role: string;
  finishReason: string | null;
  readonly toolCalls: { id: string; name: string; arguments: string }[];
}

/** Folds `chat.completion.chunk`s into the completion they spell, for the span's attributes. */
export class ChunkAccumulator {
  #id: string | undefined;
  #model: string | undefined;
  #usage: Usage | undefined;
  readonly #choices = new Map<number, ChoiceState>();

  add(chunk: ChatCompletionChunk): void {
    this.#id ??= chunk.id;
    this.#model ??= chunk.model;
    if (chunk.usage) this.#usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      const index = choice.index ?? 0;
      const state = this.#choices.get(index) ?? {
        content: '',
        role: 'assistant',
        finishReason: null,
        toolCalls: [],
      };
      this.#choices.set(index, state);
      const { delta } = choice;
      if (delta?.role !== undefined) state.role = delta.role;
      state.content += delta?.content ?? '';
      for (const call of delta?.tool_calls ?? []) {
        const held = (state.toolCalls[call.index] ??= { id: '', name: '', arguments: '' });
        held.id ||= call.id ?? '';
        held.name += call.function?.name ?? '';
        held.arguments += call.function?.arguments ?? '';
      }
      if (choice.finish_reason) state.finishReason = choice.finish_reason;
    }
  }

  completion(): ChatCompletion {
    const choices = [...this.#choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, state]) => {
        const toolCalls: ToolCall[] = state.toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        }));
        return {
          message: {
            role: state.role,
            content: state.content,
            ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
          },
          finish_reason: state.finishReason,
        };
      });
    return {
      ...(this.#id !== undefined && { id: this.#id }),
      ...(this.#model !== undefined && { model: this.#model }),
      choices,
      ...(this.#usage !== undefined && { usage: this.#usage }),
    };
  }
}
