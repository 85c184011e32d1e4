import { ClustererService } from '@understudy/contracts';
import { createClient, type Client } from '@understudy/grpc';
import type { TaskCalls } from '../domain/ports.js';

/** Task membership from the clusterer's ListTaskCalls (`UNDERSTUDY_CLUSTERER_ADDRESS`). */
export class GrpcTaskCalls implements TaskCalls {
  private readonly client: Client<typeof ClustererService>;

  constructor(address: string, options: { readonly timeoutMs?: number } = {}) {
    this.client = createClient(ClustererService, address, {
      timeoutMs: options.timeoutMs ?? 10_000,
    });
  }

  async memberCallIds(tenantId: string, taskId: string): Promise<string[]> {
    const ids: string[] = [];
    let pageToken = '';
    do {
      const page = await this.client.listTaskCalls({
        tenantId,
        taskId,
        contentCapturedOnly: true,
        pageSize: 1_000,
        pageToken,
      });
      for (const member of page.members) if (member.call) ids.push(member.call.callId);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return ids;
  }

  close(): void {
    this.client.close();
  }
}
