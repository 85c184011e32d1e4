import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Dataset, ObjectRef } from '@understudy/contracts';
import { ErrorCode, UnderstudyError } from '@understudy/errors';

const sha256Hex = /^[0-9a-f]{64}$/;

/** A field at fault, and what it must be. */
type Problem = readonly [field: string, mustBe: string];

/**
 * What a dataset record must hold to be trained on and traced back: where its splits are, their
 * hashes (readers verify downloads against them) and the window of calls it was built from.
 * Fails with INVALID_ARGUMENT naming every field at fault.
 */
export function checkDataset(dataset: Dataset): void {
  const problems = [
    ...refProblems('dataset.train', dataset.train, true),
    ...refProblems('dataset.eval', dataset.eval, true),
    ...refProblems('dataset.manifest', dataset.manifest, false),
    ...windowProblems(dataset),
  ];
  if (problems.length > 0) {
    throw new UnderstudyError(
      ErrorCode.InvalidArgument,
      problems.map(([field, mustBe]) => `${field} must ${mustBe}`).join('; '),
      { details: { fields: problems.map(([field]) => field) } },
    );
  }
}

function refProblems(field: string, ref: ObjectRef | undefined, required: boolean): Problem[] {
  if (ref === undefined) return required ? [[field, 'be set']] : [];
  const problems: Problem[] = [];
  if (ref.bucket === '') problems.push([`${field}.bucket`, 'be set']);
  if (ref.key === '') problems.push([`${field}.key`, 'be set']);
  if (!sha256Hex.test(ref.sha256)) {
    problems.push([`${field}.sha256`, "be the object's SHA-256 in 64 lowercase hex digits"]);
  }
  return problems;
}

function windowProblems({ sourceWindow }: Dataset): Problem[] {
  const field = 'dataset.source_window';
  if (sourceWindow === undefined) return [[field, 'be set']];
  const { startTime, endTime } = sourceWindow;
  if (startTime === undefined) return [[`${field}.start_time`, 'be set']];
  if (endTime === undefined) return [[`${field}.end_time`, 'be set']];
  return timestampDate(startTime) < timestampDate(endTime)
    ? []
    : [[`${field}.end_time`, 'be after start_time']];
}
