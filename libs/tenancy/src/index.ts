export { apiKeyOf } from './api-key.js';
export { readTenantKeys, TenantKeys } from './tenant-keys.js';
