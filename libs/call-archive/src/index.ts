export {
  ARCHIVE_GROUP,
  CallArchiver,
  type ArchiverHealth,
  type CallArchiverOptions,
} from './call-archiver.js';
export { scanArchivedCalls, type ScanRange } from './scan.js';
export {
  ARCHIVE_ROOT,
  SEGMENT_CONTENT_TYPE,
  SEGMENT_SUFFIX,
  SegmentMetadata,
  datePrefix,
  decodeSegment,
  segmentKey,
  utcDay,
  type SegmentLocation,
} from './segment.js';
export { archiveSettings, type ArchiveSettings } from './settings.js';
