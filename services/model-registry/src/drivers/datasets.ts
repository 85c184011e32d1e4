import { create, toJson } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { DatasetSchema, ResourceType, type Dataset } from '@understudy/contracts';
import { mapDatabaseError } from '@understudy/database';
import type { DataSource } from 'typeorm';
import { digestOf, nextPageToken, offsetOf, pageSizeOf, parseOrderBy } from '../domain/paging.js';
import { notFound, requestReused, requireFields } from '../domain/validation.js';
import { inChange, type Actor } from './changes.js';
import { DatasetRow } from './entities.js';
import { lockTask, nextVersion } from './locks.js';
import { datasetOf, jsonOf } from './mapping.js';

export interface DatasetPage {
  readonly datasets: Dataset[];
  readonly nextPageToken: string;
}

export interface DatasetQuery {
  readonly tenantId: string;
  readonly taskId: string;
  readonly pageSize: number;
  readonly pageToken: string;
  readonly orderBy: string;
}

const orderFields = { created_at: 'createdAt', version: 'version' };

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
      .catch((error: unknown) => {
        throw mapDatabaseError(error);
      });
    return row === null ? undefined : datasetOf(row);
  }

  async list(query: DatasetQuery): Promise<DatasetPage> {
    requireFields({ tenant_id: query.tenantId });
    const filters = { tenantId: query.tenantId, taskId: query.taskId, orderBy: query.orderBy };
    const pageSize = pageSizeOf(query.pageSize);
    const offset = offsetOf(query.pageToken, filters);
    const builder = this.dataSource.manager
      .createQueryBuilder(DatasetRow, 'd')
      .where('d.tenantId = :tenantId', { tenantId: query.tenantId });
    if (query.taskId !== '') builder.andWhere('d.taskId = :taskId', { taskId: query.taskId });
    for (const { column, descending } of parseOrderBy(
      query.orderBy,
      orderFields,
      'created_at desc',
    )) {
      builder.addOrderBy(`d.${column}`, descending ? 'DESC' : 'ASC');
    }
    const rows = await builder
      .addOrderBy('d.datasetId', 'ASC')
      .offset(offset)
      .limit(pageSize + 1)
      .getMany()
      .catch((error: unknown) => {
        throw mapDatabaseError(error);
      });
    return {
      datasets: rows.slice(0, pageSize).map(datasetOf),
      nextPageToken: nextPageToken(offset, pageSize, rows.length, filters),
    };
  }

  /** A task's datasets, newest first (for lineage). */
  async ofTask(tenantId: string, taskId: string): Promise<Dataset[]> {
    const rows = await this.dataSource.manager
      .find(DatasetRow, {
        where: { tenantId, taskId },
        order: { createdAt: 'DESC', datasetId: 'ASC' },
      })
      .catch((error: unknown) => {
        throw mapDatabaseError(error);
      });
    return rows.map(datasetOf);
  }
}
