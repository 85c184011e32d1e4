import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fromJsonString } from '@bufbuild/protobuf';
import { LlmCallSchema } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';
import { varyingText } from './domain/content.js';
import { normalizeText } from './domain/featurizer.js';
import { IdfTable } from './domain/idf.js';

export interface SnapshotOptions {
  /** The featurizer's seed (UNDERSTUDY_EMBEDDER_SEED). */
  readonly seed: number;
  /** As the service clips (UNDERSTUDY_EMBEDDER_MAX_INPUT_CHARS). */
  readonly maxInputChars: number;
}

/**
 * Fits an IDF table on a frozen snapshot of calls, one `LlmCall` per line in protobuf JSON,
 * each call's text selected exactly as the service selects it. Calls without plain content are
 * skipped (the table is fitted where content can be read, never on keys).
 */
export async function fitSnapshot(lines: Readable, options: SnapshotOptions): Promise<IdfTable> {
  const texts: string[] = [];
  let number = 0;
  for await (const line of createInterface({ input: lines, crlfDelay: Infinity })) {
    number += 1;
    if (line.trim() === '') continue;
    let call;
    try {
      call = fromJsonString(LlmCallSchema, line, { ignoreUnknownFields: true });
    } catch (error) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `line ${String(number)} is not an LlmCall in JSON`,
        {
          cause: error,
        },
      );
    }
    if (call.content.case !== 'plainContent') continue;
    const text = normalizeText(varyingText(call.content.value, options.maxInputChars));
    if (text !== '') texts.push(text);
  }
  if (texts.length === 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      'the snapshot holds no call with plain content',
    );
  }
  return IdfTable.fit(texts, { seed: options.seed });
}
