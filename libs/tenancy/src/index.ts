export { apiKeyOf } from './api-key.js';
export {
  contentOf,
  ContentCipherFailure,
  decryptContent,
  encryptContent,
} from './content-cipher.js';
export {
  ContentKeyring,
  contentKeysFileSetting,
  readContentKeys,
  type ContentKey,
} from './content-keys.js';
export { DigestMatcher, sha256Hex } from './digests.js';
export { readMountedFile } from './mounted-file.js';
export { readTenantKeys, TenantKeys, type TenantLimits } from './tenant-keys.js';
