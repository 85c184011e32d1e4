import {
  toBinary,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
} from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { status } from '@grpc/grpc-js';
import { type reflectionV1, type reflectionV1alpha } from '@understudy/contracts';
import type { ServiceImpl } from './service-impl.js';

/** A reflection request's oneof, shared by v1 and v1alpha (same fields, same numbers). */
export type ReflectionQuery =
  | { case: 'fileByFilename'; value: string }
  | { case: 'fileContainingSymbol'; value: string }
  | { case: 'fileContainingExtension'; value: { containingType: string; extensionNumber: number } }
  | { case: 'allExtensionNumbersOfType'; value: string }
  | { case: 'listServices'; value: string }
  | { case: undefined; value?: undefined };

/** A reflection response's oneof, shared by v1 and v1alpha. */
export type ReflectionAnswer =
  | { case: 'fileDescriptorResponse'; value: { fileDescriptorProto: Uint8Array[] } }
  | {
      case: 'allExtensionNumbersResponse';
      value: { baseTypeName: string; extensionNumber: number[] };
    }
  | { case: 'listServicesResponse'; value: { service: { name: string }[] } }
  | { case: 'errorResponse'; value: { errorCode: number; errorMessage: string } };

/**
 * Answers server-reflection queries from the descriptors protobuf-es embeds in generated code,
 * so `grpcurl list|describe|call` work without .proto files. Files are indexed with all their
 * transitive imports, and a file is always sent together with them.
 */
export class ReflectionIndex {
  readonly #services: readonly string[];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #extensions = new Map<string, DescExtension[]>();
  readonly #encoded = new Map<DescFile, Uint8Array>();

  constructor(services: readonly DescService[]) {
    this.#services = services.map((s) => s.typeName).sort();
    for (const service of services) this.#addFile(service.file);
  }

  answer(query: ReflectionQuery): ReflectionAnswer {
    switch (query.case) {
      case 'listServices':
        return {
          case: 'listServicesResponse',
          value: { service: this.#services.map((name) => ({ name })) },
        };
      case 'fileByFilename':
        return this.#fileAnswer(this.#files.get(query.value), `file "${query.value}"`);
      case 'fileContainingSymbol':
        return this.#fileAnswer(this.#symbols.get(query.value), `symbol "${query.value}"`);
      case 'fileContainingExtension': {
        const { containingType, extensionNumber } = query.value;
        const extension = this.#extensions
          .get(containingType)
          ?.find((e) => e.number === extensionNumber);
        return this.#fileAnswer(
          extension?.file,
          `extension ${extensionNumber} of "${containingType}"`,
        );
      }
      case 'allExtensionNumbersOfType':
        if (!this.#symbols.has(query.value)) return notFound(`type "${query.value}"`);
        return {
          case: 'allExtensionNumbersResponse',
          value: {
            baseTypeName: query.value,
            extensionNumber: (this.#extensions.get(query.value) ?? []).map((e) => e.number),
          },
        };
      case undefined:
        return errorAnswer(status.INVALID_ARGUMENT, 'empty reflection request');
    }
  }

  #fileAnswer(file: DescFile | undefined, what: string): ReflectionAnswer {
    if (file === undefined) return notFound(what);
    const files = [file, ...transitiveDependencies(file)];
    return {
      case: 'fileDescriptorResponse',
      value: { fileDescriptorProto: files.map((f) => this.#encode(f)) },
    };
  }

  #encode(file: DescFile): Uint8Array {
    let bytes = this.#encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#encoded.set(file, bytes);
    }
    return bytes;
  }

  #addFile(file: DescFile): void {
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    for (const dependency of file.dependencies) this.#addFile(dependency);
    for (const service of file.services) {
      this.#symbols.set(service.typeName, file);
      for (const method of service.methods) {
        this.#symbols.set(`${service.typeName}.${method.name}`, file);
      }
    }
    for (const message of file.messages) this.#addMessage(message);
    for (const e of file.enums) this.#addEnum(e);
    for (const extension of file.extensions) this.#addExtension(extension);
  }

  #addMessage(message: DescMessage): void {
    this.#symbols.set(message.typeName, message.file);
    for (const field of message.fields) {
      this.#symbols.set(`${message.typeName}.${field.name}`, message.file);
    }
    for (const nested of message.nestedMessages) this.#addMessage(nested);
    for (const e of message.nestedEnums) this.#addEnum(e);
    for (const extension of message.nestedExtensions) this.#addExtension(extension);
  }

  #addEnum(e: DescEnum): void {
    this.#symbols.set(e.typeName, e.file);
    // Enum values are scoped beside their enum, not inside it (protobuf scoping rules).
    const scope = e.typeName.slice(0, e.typeName.length - e.name.length);
    for (const value of e.values) this.#symbols.set(scope + value.name, e.file);
  }

  #addExtension(extension: DescExtension): void {
    this.#symbols.set(extension.typeName, extension.file);
    const known = this.#extensions.get(extension.extendee.typeName) ?? [];
    this.#extensions.set(extension.extendee.typeName, [...known, extension]);
  }
}

/** Every file `file` imports, directly or not, each once. */
function transitiveDependencies(file: DescFile): DescFile[] {
  const seen = new Set<DescFile>([file]);
  const visit = (f: DescFile): void => {
    for (const dependency of f.dependencies) {
      if (seen.has(dependency)) continue;
      seen.add(dependency);
      visit(dependency);
    }
  };
  visit(file);
  seen.delete(file);
  return [...seen];
}

function notFound(what: string): ReflectionAnswer {
  return errorAnswer(status.NOT_FOUND, `${what} not found`);
}

function errorAnswer(code: status, errorMessage: string): ReflectionAnswer {
  return { case: 'errorResponse', value: { errorCode: code, errorMessage } };
}

/** Streams one response per request, echoing the host and the request as the protocol asks. */
async function* answerEach<R extends { host: string; messageRequest: ReflectionQuery }>(
  index: ReflectionIndex,
  requests: AsyncIterable<R>,
): AsyncGenerator<{ validHost: string; originalRequest: R; messageResponse: ReflectionAnswer }> {
  for await (const request of requests) {
    yield {
      validHost: request.host,
      originalRequest: request,
      messageResponse: index.answer(request.messageRequest),
    };
  }
}

/** grpcurl and most tools ask v1 first and fall back to v1alpha; serve both from one index. */
export function reflectionServices(index: ReflectionIndex): {
  v1: ServiceImpl<typeof reflectionV1.ServerReflection>;
  v1alpha: ServiceImpl<typeof reflectionV1alpha.ServerReflection>;
} {
  return {
    v1: { serverReflectionInfo: (requests) => answerEach(index, requests) },
    v1alpha: { serverReflectionInfo: (requests) => answerEach(index, requests) },
  };
}
