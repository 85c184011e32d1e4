export type {
  ByteRange,
  ListEntry,
  ListOptions,
  ObjectEntry,
  ObjectStat,
  ObjectStore,
  PrefixEntry,
  PutOptions,
  PutResult,
} from './object-store.js';
export { FilesystemDriver, type FilesystemDriverOptions } from './filesystem-driver.js';
export { MinioDriver, type MinioDriverOptions } from './minio-driver.js';
export {
  MAX_KEY_BYTES,
  MAX_METADATA_BYTES,
  MAX_SEGMENT_BYTES,
  validateKey,
  validatePrefix,
} from './validation.js';
