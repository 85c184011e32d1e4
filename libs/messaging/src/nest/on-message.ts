import 'reflect-metadata';
import type { DescMessage } from '@bufbuild/protobuf';
import type { HandlerOptions, MessageHandler } from '../consumer-runner.js';
import type { Topic } from '../topic.js';

const onMessageKey = 'understudy:messaging:on-message';

export interface OnMessageMetadata {
  readonly topic: Topic;
  readonly options: HandlerOptions;
}

/**
 * Marks a method of a Nest provider as the handler of a topic for a consumer group; the
 * MessagingModule finds it at boot. The method's parameters are checked against the topic's schema.
 *
 * @example
 * ＠OnMessage(topics.callsCaptured, { group: 'embedder' })
 * async embed(call: CallCaptured, context: MessageContext): Promise<void> { … }
 */
export function OnMessage<Desc extends DescMessage>(topic: Topic<Desc>, options: HandlerOptions) {
  return (
    _target: object,
    _method: string | symbol,
    // Only `value` is read, which keeps the check covariant: the method must accept the message.
    descriptor: { readonly value?: MessageHandler<Desc> },
  ): void => {
    const handler = descriptor.value;
    if (handler === undefined) return;
    const existing = onMessageMetadata(handler);
    Reflect.defineMetadata(onMessageKey, [...existing, { topic, options }], handler);
  };
}

export function onMessageMetadata(method: object): readonly OnMessageMetadata[] {
  const metadata: unknown = Reflect.getMetadata(onMessageKey, method);
  return Array.isArray(metadata) ? (metadata as OnMessageMetadata[]) : [];
}
