import { group } from '../command.js';
import { audit } from './audit.js';
import { lineage } from './lineage.js';
import { models } from './models.js';
import { policy } from './policy.js';
import { approve, promote, rollback } from './promotion.js';
import { routes } from './routes.js';
import { tasks } from './tasks.js';

export const registry = group('Inspect and operate the model registry', {
  tasks,
  models,
  lineage,
  promote,
  rollback,
  approve,
  routes,
  audit,
  policy,
});
