import { create, toJson } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { DatasetSchema, ResourceType, type Dataset } from '@understudy/contracts';
import { rethrowDatabaseError } from '@understudy/database';
import { In, type DataSource } from 'typeorm';
import { checkDataset } from '../domain/datasets.js';
import { digestOf, type ListOrder, type PageRequest } from '../domain/paging.js';
import { notFound, requestReused, requireFields } from '../domain/validation.js';
import { inChange, type Actor } from './changes.js';
import { DatasetRow } from './entities.js';
import { keysetPage } from './keyset.js';
import { lockTask, nextVersion } from './locks.js';
import { datasetOf, jsonOf } from './mapping.js';

export interface DatasetPage {
  readonly datasets: Dataset[];
  readonly nextPageToken: string;
}

export interface DatasetQuery extends PageRequest {
  readonly tenantId: string;
  readonly taskId: string;
}

const datasetOrder: ListOrder<DatasetRow> = {
  fields: {
    created_at: { column: 'd.createdAt', kind: 'timestamp', value: (row) => row.createdAt },
    version: { column: 'd.version', kind: 'number', value: (row) => row.version },
  },
  fallback: 'created_at desc',
  id: { column: 'd.datasetId', kind: 'text', value: (row) => row.datasetId },
};

/** Datasets: immutable records, numbered per task, created once per request_id. */
export class DatasetStore {
  constructor(private readonly dataSource: DataSource) {}

  async create(requestId: string, input: Dataset, actor: Actor): Promise<Dataset> {
    const { tenantId, taskId, datasetId } = input;
    requireFields({
      request_id: requestId,
      tenant_id: tenantId,
      task_id: taskId,
      dataset_id: datasetId,
    });
    checkDataset(input);
    const digest = digestOf(toJson(DatasetSchema, input));
    return inChange(this.dataSource, actor, async (manager, log) => {
      await lockTask(manager, tenantId, taskId);
      const repeated = await manager.findOneBy(DatasetRow, { tenantId, requestId });
      if (repeated !== null) {
        if (repeated.requestDigest !== digest) throw requestReused(requestId);
        return datasetOf(repeated);
      }
      const createdAt = new Date();
      const dataset = create(DatasetSchema, {
        ...input,
        version: await nextVersion(manager, 'dataset', tenantId, taskId),
        createdAt: timestampFromDate(createdAt),
      });
      await manager.insert(DatasetRow, {
        tenantId,
        datasetId,
        taskId,
        version: dataset.version,
        requestId,
        requestDigest: digest,
        body: jsonOf(DatasetSchema, dataset),
        createdAt,
      });
      log.audit({
        tenantId,
        action: 'CreateDataset',
        resourceType: ResourceType.DATASET,
        resourceId: datasetId,
        requestId,
        details: { taskId, version: dataset.version },
      });
      return dataset;
    });
  }

  async get(tenantId: string, datasetId: string): Promise<Dataset> {
    requireFields({ tenant_id: tenantId, dataset_id: datasetId });
    const row = await this.find(tenantId, datasetId);
    if (row === undefined) throw notFound('dataset', datasetId);
    return row;
  }

  /** The dataset, or undefined when this tenant has none by that id. */
  async find(tenantId: string, datasetId: string): Promise<Dataset | undefined> {
    const row = await this.dataSource.manager
      .findOneBy(DatasetRow, { tenantId, datasetId })
      .catch(rethrowDatabaseError);
    return row === null ? undefined : datasetOf(row);
  }

  async list(query: DatasetQuery): Promise<DatasetPage> {
    const { tenantId, taskId } = query;
    requireFields({ tenant_id: tenantId });
    const builder = this.dataSource.manager
      .createQueryBuilder(DatasetRow, 'd')
      .where('d.tenantId = :tenantId', { tenantId });
    if (taskId !== '') builder.andWhere('d.taskId = :taskId', { taskId });
    const page = await keysetPage(builder, datasetOrder, query, { tenantId, taskId });
    return { datasets: page.rows.map(datasetOf), nextPageToken: page.nextPageToken };
  }

  /** The datasets of these tasks, newest first (for lineage). */
  async ofTasks(tenantId: string, taskIds: readonly string[]): Promise<Dataset[]> {
    const rows = await this.dataSource.manager
      .find(DatasetRow, {
        where: { tenantId, taskId: In([...taskIds]) },
        order: { createdAt: 'DESC', datasetId: 'DESC' },
      })
      .catch(rethrowDatabaseError);
    return rows.map(datasetOf);
  }
}
