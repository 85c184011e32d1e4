import { runService } from '@understudy/service';
import { definition } from './service.js';

await runService(definition);
