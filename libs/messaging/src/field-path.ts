import { ScalarType, type DescMessage } from '@bufbuild/protobuf';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

/**
 * Compiles a dotted path of proto field names (`call.call_id`) into a reader of that string
 * field. The path is checked against the schema once, so a typo fails at boot, not on publish.
 * It returns undefined where a message on the way is unset.
 */
export function stringFieldReader(
  schema: DescMessage,
  path: string,
): (message: object) => string | undefined {
  const localNames: string[] = [];
  let current: DescMessage | undefined = schema;
  const segments = path.split('.');
  segments.forEach((segment, index) => {
    const field = current?.fields.find((candidate) => candidate.name === segment);
    const last = index === segments.length - 1;
    const fits =
      field !== undefined &&
      field.oneof === undefined &&
      (last
        ? field.fieldKind === 'scalar' && field.scalar === ScalarType.STRING
        : field.fieldKind === 'message');
    if (!fits) {
      throw new UnderstudyError(
        ErrorCode.InvalidArgument,
        `${schema.typeName} has no string field at "${path}" outside a oneof`,
      );
    }
    localNames.push(field.localName);
    current = field.fieldKind === 'message' ? field.message : undefined;
  });
  return (message) => {
    let value: unknown = message;
    for (const name of localNames) {
      value =
        typeof value === 'object' && value !== null
          ? (value as Record<string, unknown>)[name]
          : undefined;
    }
    return typeof value === 'string' ? value : undefined;
  };
}
