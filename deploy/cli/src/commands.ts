import { group } from './command.js';
import { registry } from './registry/index.js';
import { tasks } from './tasks/index.js';

/** Every command, by the words that name it: `understudy registry models list`. */
export const commands = group('Operate Understudy from the command line', { registry, tasks });
