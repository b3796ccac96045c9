/**
 * @module Access records: what a gateway node writes for every request, and the batches in
 * which it ships them to the control plane (`POST /api/v1/audit/access-batches`). Shared by
 * both planes, so the record's shape and its JSON Schema live here.
 */

/** One request as the gateway saw and decided it. Never a header value or a credential. */
export interface AccessRecord {
  time: string;
  traceId: string;
  requestId: string;
  api: string | null;
  version: string | null;
  operation: string | null;
  method: string;
  /** Path below the version prefix; values of sensitive query parameters are `[redacted]`. */
  path: string;
  status: number;
  decision: string;
  latencyMs: number;
  upstreamLatencyMs: number | null;
  upstreamStatus: number | null;
  consumer: string | null;
  subject: string | null;
  clientAddress: string;
  snapshotHash: string;
  /** The client went away before the answer was complete. */
  aborted: boolean;
}

/** Where access records go (a winston JSON-lines file and the spool in production, an array in tests). */
export interface AccessLog {
  write(record: AccessRecord): void;
}

/** Most records one batch may carry. */
export const MAX_ACCESS_BATCH_RECORDS = 2000;

/**
 * A batch of records from one node. `batchId` is unique per node and increases in the order the
 * node wrote the records; the control plane stores a batch once, so a node that is not sure a
 * batch arrived (a timeout, a crash before it noted the answer) sends it again safely.
 */
export interface AccessBatch {
  nodeId: string;
  batchId: string;
  records: AccessRecord[];
}

/** The control plane's answer to a batch. */
export interface AccessBatchReceipt {
  batchId: string;
  /** Records stored by this call (0 when the batch had arrived before). */
  accepted: number;
  duplicate: boolean;
  /** Position and hash of the batch in the access chain. */
  seq: number;
  hash: string;
}

const nullableString = (maxLength: number) => ({ type: ['string', 'null'], maxLength }) as const;
const nullableNumber = { type: ['number', 'null'], minimum: 0 } as const;

export const accessRecordJsonSchema = {
  type: 'object',
  properties: {
    time: { type: 'string', format: 'date-time' },
    traceId: { type: 'string', maxLength: 64 },
    requestId: { type: 'string', maxLength: 128 },
    api: nullableString(100),
    version: nullableString(64),
    operation: nullableString(200),
    method: { type: 'string', maxLength: 20 },
    path: { type: 'string', maxLength: 8192 },
    status: { type: 'integer', minimum: 0, maximum: 999 },
    decision: { type: 'string', maxLength: 100 },
    latencyMs: { type: 'number', minimum: 0 },
    upstreamLatencyMs: nullableNumber,
    upstreamStatus: { type: ['integer', 'null'], minimum: 0, maximum: 999 },
    consumer: nullableString(200),
    subject: nullableString(500),
    clientAddress: { type: 'string', maxLength: 100 },
    snapshotHash: { type: 'string', maxLength: 128 },
    aborted: { type: 'boolean' },
  },
  required: ['time', 'traceId', 'requestId', 'api', 'version', 'operation', 'method', 'path', 'status', 'decision', 'latencyMs', 'upstreamLatencyMs', 'upstreamStatus', 'consumer', 'subject', 'clientAddress', 'snapshotHash', 'aborted'],
  // Newer gateways may add fields: an older control plane keeps what it knows.
  additionalProperties: true,
} as const;

export const ACCESS_BATCH_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';

export const accessBatchSchema = {
  type: 'object',
  properties: {
    nodeId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' },
    batchId: { type: 'string', pattern: ACCESS_BATCH_ID_PATTERN },
    records: { type: 'array', minItems: 1, maxItems: MAX_ACCESS_BATCH_RECORDS, items: accessRecordJsonSchema },
  },
  required: ['nodeId', 'batchId', 'records'],
  additionalProperties: false,
} as const;
