import { startTestbed } from '@understudy/testbed';
import type { TestProject } from 'vitest/node';

/** Starts the shared servers once per run; tests read their endpoints with `inject('testbed')`. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const testbed = await startTestbed((message) => {
    console.log(message);
  });
  project.provide('testbed', testbed.endpoints);
  return () => testbed.stop();
}
