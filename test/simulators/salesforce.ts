/** @module Salesforce REST simulator: OAuth token endpoint (client_credentials, JWT bearer), sObject CRUD, SOQL subset, composite and API-usage limits (reference §2). */
import { createHmac, randomBytes, verify } from 'node:crypto';
import { startSimulatorServer } from './faults.js';
import type { SimulatorHandle, SimulatorServerOptions } from './faults.js';
import { clone, header, isPlainObject, jsonResponse, tryParseJson } from './http-util.js';
import type { SimRequest, SimResponse } from './http-util.js';
import { SoqlError, evaluateCondition, parseSoql } from './salesforce-soql.js';
import type { SoqlValue } from './salesforce-soql.js';

/** A connected app: `clientSecret` enables client_credentials, `jwtPublicKeyPem` the JWT bearer flow. */
export interface SalesforceClient {
  clientId: string;
  clientSecret?: string;
  /** PEM (SPKI or certificate public key) that verifies RS256 assertions. */
  jwtPublicKeyPem?: string;
  /** JWT `sub` must equal this when set (the pre-authorised user). */
  username?: string;
}

export interface SalesforceSimulatorOptions extends SimulatorServerOptions {
  /** Newest API version served (default `v62.0`); v58.0 up to it are listed and accepted. */
  apiVersion?: string;
  clients: SalesforceClient[];
  /** Lifetime of minted tokens from issue (default 2 h); afterwards 401 INVALID_SESSION_ID. */
  tokenTtlMs?: number;
  /** Daily API allocation (default 15000, Developer Edition); past it 403 REQUEST_LIMIT_EXCEEDED. */
  apiLimit?: number;
  /** Tokens that are always valid (gateways configured with a static token). */
  staticTokens?: string[];
  /** Records per query batch before `nextRecordsUrl` paging (default 2000). */
  queryBatchSize?: number;
  /** Clock (default real time). */
  now?: () => Date;
}

export type SfRecord = { Id: string } & Record<string, unknown>;

export interface SalesforceSimulatorHandle extends SimulatorHandle {
  /** Invalidates every minted token (static tokens stay valid): next calls get INVALID_SESSION_ID. */
  expireTokens(): void;
  /** API requests counted so far and the allocation. */
  apiUsage(): { used: number; max: number };
  /** Live (not deleted) records of a type, as stored (copies). */
  records(type: string): SfRecord[];
}

type SfFieldType =
  | 'id' | 'string' | 'textarea' | 'email' | 'phone' | 'url' | 'picklist' | 'reference' | 'date' | 'datetime' | 'boolean' | 'double' | 'currency';

interface SfField {
  name: string;
  type: SfFieldType;
  label: string;
  required?: boolean;
  readonly?: boolean;
  referenceTo?: string;
  picklist?: string[];
  restricted?: boolean;
  externalId?: boolean;
  defaultValue?: unknown;
}

interface SfObject {
  name: string;
  prefix: string;
  fields: SfField[];
  autoNumber?: { field: string; start: number; width: number };
  /** Recomputes derived read-only fields after a write. */
  derive?: (rec: SfRecord, before: SfRecord | undefined, now: string) => void;
}

const ORG_ID = '00DDn00000A1b2C';
const USER_ID = '005Dn00000B2c3D';

const f = (name: string, type: SfFieldType, label: string, extra: Partial<SfField> = {}): SfField => ({ name, type, label, ...extra });

const SYSTEM_FIELDS: SfField[] = [
  f('Id', 'id', 'Record ID', { readonly: true }),
  f('IsDeleted', 'boolean', 'Deleted', { readonly: true }),
  f('OwnerId', 'string', 'Owner ID'),
  f('CreatedDate', 'datetime', 'Created Date', { readonly: true }),
  f('CreatedById', 'string', 'Created By ID', { readonly: true }),
  f('LastModifiedDate', 'datetime', 'Last Modified Date', { readonly: true }),
  f('LastModifiedById', 'string', 'Last Modified By ID', { readonly: true }),
  f('SystemModstamp', 'datetime', 'System Modstamp', { readonly: true }),
];

function objectSchemas(): Record<string, SfObject> {
  const objects: SfObject[] = [
    {
      name: 'Account', prefix: '001',
      fields: [
        f('Name', 'string', 'Account Name', { required: true }), f('AccountNumber', 'string', 'Account Number'),
        f('Type', 'picklist', 'Account Type', { picklist: ['Prospect', 'Customer - Direct', 'Customer - Channel', 'Partner', 'Other'] }),
        f('Industry', 'picklist', 'Industry', { picklist: ['Retail', 'Consumer Goods', 'Transportation', 'Other'] }),
        f('Phone', 'phone', 'Account Phone'), f('Website', 'url', 'Website'),
        f('BillingStreet', 'textarea', 'Billing Street'), f('BillingCity', 'string', 'Billing City'),
        f('BillingPostalCode', 'string', 'Billing Zip/Postal Code'), f('BillingCountry', 'string', 'Billing Country'),
        f('ShippingStreet', 'textarea', 'Shipping Street'), f('ShippingCity', 'string', 'Shipping City'),
        f('ShippingPostalCode', 'string', 'Shipping Zip/Postal Code'), f('ShippingCountry', 'string', 'Shipping Country'),
        f('Description', 'textarea', 'Account Description'),
        f('ERP_Customer_Id__c', 'string', 'ERP Customer Id', { externalId: true }),
      ],
    },
    {
      name: 'Contact', prefix: '003',
      derive: (rec) => {
        rec.Name = [rec.FirstName, rec.LastName].filter((x) => typeof x === 'string' && x !== '').join(' ');
      },
      fields: [
        f('FirstName', 'string', 'First Name'), f('LastName', 'string', 'Last Name', { required: true }),
        f('Name', 'string', 'Full Name', { readonly: true }), f('AccountId', 'reference', 'Account ID', { referenceTo: 'Account' }),
        f('Title', 'string', 'Title'), f('Email', 'email', 'Email'), f('Phone', 'phone', 'Business Phone'),
        f('MailingStreet', 'textarea', 'Mailing Street'), f('MailingCity', 'string', 'Mailing City'),
        f('MailingPostalCode', 'string', 'Mailing Zip/Postal Code'), f('MailingCountry', 'string', 'Mailing Country'),
        f('HasOptedOutOfEmail', 'boolean', 'Email Opt Out', { defaultValue: false }),
      ],
    },
    {
      name: 'Order', prefix: '801',
      autoNumber: { field: 'OrderNumber', start: 100, width: 8 },
      derive: (rec) => {
        rec.StatusCode = rec.Status === 'Activated' ? 'Activated' : 'Draft';
      },
      fields: [
        f('AccountId', 'reference', 'Account ID', { required: true, referenceTo: 'Account' }),
        f('EffectiveDate', 'date', 'Order Start Date', { required: true }), f('EndDate', 'date', 'Order End Date'),
        f('Status', 'picklist', 'Status', { required: true, restricted: true, picklist: ['Draft', 'Activated'] }),
        f('StatusCode', 'picklist', 'Status Category', { readonly: true, picklist: ['Draft', 'Activated'] }),
        f('OrderNumber', 'string', 'Order Number', { readonly: true }),
        f('OrderReferenceNumber', 'string', 'Order Reference Number'), f('PoNumber', 'string', 'PO Number'),
        f('Type', 'picklist', 'Order Type', { picklist: ['New', 'Renewal', 'Return'] }),
        f('Description', 'textarea', 'Description'),
        f('TotalAmount', 'currency', 'Order Amount', { readonly: true, defaultValue: 0 }),
      ],
    },
    {
      name: 'Case', prefix: '500',
      autoNumber: { field: 'CaseNumber', start: 1001, width: 8 },
      derive: (rec, before, now) => {
        rec.IsClosed = rec.Status === 'Closed';
        if (rec.IsClosed && before?.Status !== 'Closed') rec.ClosedDate = now;
        if (!rec.IsClosed) rec.ClosedDate = null;
      },
      fields: [
        f('CaseNumber', 'string', 'Case Number', { readonly: true }), f('Subject', 'string', 'Subject'),
        f('Description', 'textarea', 'Description'),
        f('Status', 'picklist', 'Status', { restricted: true, picklist: ['New', 'Working', 'Escalated', 'Closed'], defaultValue: 'New' }),
        f('Priority', 'picklist', 'Priority', { restricted: true, picklist: ['High', 'Medium', 'Low'], defaultValue: 'Medium' }),
        f('Origin', 'picklist', 'Case Origin', { picklist: ['Phone', 'Email', 'Web'] }),
        f('Type', 'picklist', 'Case Type', { picklist: ['Question', 'Problem', 'Feature Request'] }),
        f('Reason', 'picklist', 'Case Reason', { picklist: ['Installation', 'Equipment Complexity', 'Performance', 'Breakdown', 'Equipment Design', 'Feedback', 'Other'] }),
        f('AccountId', 'reference', 'Account ID', { referenceTo: 'Account' }),
        f('ContactId', 'reference', 'Contact ID', { referenceTo: 'Contact' }),
        f('SuppliedEmail', 'email', 'Web Email'),
        f('IsClosed', 'boolean', 'Closed', { readonly: true }), f('ClosedDate', 'datetime', 'Closed Date', { readonly: true }),
      ],
    },
    {
      // A custom object mirroring the ERP's invoices (read-only "billing status" in §4).
      name: 'Invoice__c', prefix: 'a0I',
      fields: [
        f('Name', 'string', 'Invoice Name', { required: true }),
        f('Invoice_Number__c', 'string', 'Invoice Number', { externalId: true }),
        f('Account__c', 'reference', 'Account', { referenceTo: 'Account' }),
        f('Order_Reference__c', 'string', 'Order Reference'),
        f('Amount_Total__c', 'currency', 'Total'), f('Amount_Due__c', 'currency', 'Amount Due'),
        f('Due_Date__c', 'date', 'Due Date'),
        f('Payment_State__c', 'picklist', 'Payment State', { restricted: true, picklist: ['not_paid', 'in_payment', 'paid', 'partial', 'reversed', 'blocked'] }),
        f('Bank_Account__c', 'string', 'Recipient Bank Account'),
      ],
    },
  ];
  for (const o of objects) o.fields = [...SYSTEM_FIELDS, ...o.fields];
  return Object.fromEntries(objects.map((o) => [o.name, o]));
}

// ---- ids ------------------------------------------------------------------------------

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Appends the 3-character case-safe checksum to a 15-character Salesforce id. */
export function toCaseSafeId(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk += 1) {
    let flags = 0;
    for (let j = 0; j < 5; j += 1) {
      const c = id15.charAt(chunk * 5 + j);
      if (c >= 'A' && c <= 'Z') flags |= 1 << j;
    }
    suffix += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345'.charAt(flags);
  }
  return id15 + suffix;
}

/** Deterministic 18-character id: key prefix + pod `Dn` + `0` + base-62 counter. */
export function salesforceId(prefix: string, n: number): string {
  let digits = '';
  for (let x = n; x > 0; x = Math.floor(x / 62)) digits = BASE62[x % 62] + digits;
  return toCaseSafeId(`${prefix}Dn0${digits.padStart(9, '0')}`);
}

function normaliseId(id: string): string | undefined {
  if (!/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(id)) return undefined;
  return toCaseSafeId(id.slice(0, 15));
}

const sfDatetime = (d: Date): string => d.toISOString().replace('Z', '+0000');

// ---- seed -----------------------------------------------------------------------------

/**
 * The deterministic CRM seed. Accounts mirror the Odoo partners through
 * `ERP_Customer_Id__c` (C-1001…C-1004, plus one prospect without ERP id); Orders carry
 * `OrderReferenceNumber` = Odoo SO names (S00001–S00004 Activated, S00005 Draft); the custom
 * object `Invoice__c` mirrors the ERP's invoices INV/2025/00001–00004 (`Payment_State__c`).
 * Record `n` of a type has id `salesforceId(prefix, n)`, e.g. Account 1 =
 * `salesforceId('001', 1)`.
 */
export function salesforceSeed(): Record<string, Array<Record<string, unknown>>> {
  const acc = (n: number) => salesforceId('001', n);
  const con = (n: number) => salesforceId('003', n);
  return {
    Account: [
      { Name: 'Harbor Outfitters', ERP_Customer_Id__c: 'C-1001', Type: 'Customer - Direct', Industry: 'Retail', Phone: '+32 3 555 01 01', BillingCity: 'Antwerp', BillingCountry: 'Belgium', Website: 'https://harbor-outfitters.example' },
      { Name: 'Lumen Home Goods', ERP_Customer_Id__c: 'C-1002', Type: 'Customer - Channel', Industry: 'Retail', Phone: '+33 4 55 50 12 34', BillingCity: 'Lyon', BillingCountry: 'France' },
      { Name: 'Northwind Cycles', ERP_Customer_Id__c: 'C-1003', Type: 'Customer - Direct', Industry: 'Consumer Goods', Phone: '+1 503 555 0142', BillingCity: 'Portland', BillingCountry: 'United States' },
      { Name: 'Priya Shah', ERP_Customer_Id__c: 'C-1004', Type: 'Customer - Direct', Industry: 'Retail', BillingCity: 'Brussels', BillingCountry: 'Belgium' },
      { Name: 'Bluebird Boutique', Type: 'Prospect', Industry: 'Retail', BillingCity: 'Ghent', BillingCountry: 'Belgium' },
    ],
    Contact: [
      { FirstName: 'Jane', LastName: 'Doe', AccountId: acc(1), Email: 'jane.doe@harbor-outfitters.example', Title: 'Purchasing Manager' },
      { FirstName: 'Marc', LastName: 'Lefebvre', AccountId: acc(2), Email: 'marc.lefebvre@lumenhome.example', HasOptedOutOfEmail: true },
      { FirstName: 'Sam', LastName: 'Rivera', AccountId: acc(3), Email: 'sam.rivera@northwind-cycles.example' },
      { FirstName: 'Priya', LastName: 'Shah', AccountId: acc(4), Email: 'priya.shah@mail.example' },
    ],
    Order: [
      { AccountId: acc(1), EffectiveDate: '2025-03-03', Status: 'Activated', OrderReferenceNumber: 'S00001', PoNumber: 'PO-HO-7781', TotalAmount: 925.65 },
      { AccountId: acc(2), EffectiveDate: '2025-03-05', Status: 'Activated', OrderReferenceNumber: 'S00002', TotalAmount: 1000.67 },
      { AccountId: acc(3), EffectiveDate: '2025-03-10', Status: 'Activated', OrderReferenceNumber: 'S00003', TotalAmount: 272.01 },
      { AccountId: acc(4), EffectiveDate: '2025-03-12', Status: 'Activated', OrderReferenceNumber: 'S00004', TotalAmount: 355.74 },
      { AccountId: acc(1), EffectiveDate: '2025-03-20', Status: 'Draft', OrderReferenceNumber: 'S00005', TotalAmount: 1685.77 },
    ],
    Case: [
      { Subject: 'Order S00004 delivery delayed', Status: 'Working', Priority: 'High', Origin: 'Email', Type: 'Problem', AccountId: acc(4), ContactId: con(4), SuppliedEmail: 'priya.shah@mail.example' },
      { Subject: 'Brass desk lamp arrived dented (S00003)', Status: 'New', Priority: 'Medium', Origin: 'Web', Type: 'Problem', AccountId: acc(3), ContactId: con(3) },
      { Subject: 'Copy of invoice INV/2025/00001', Status: 'Closed', Priority: 'Low', Origin: 'Phone', Type: 'Question', AccountId: acc(1), ContactId: con(1) },
    ],
    Invoice__c: (
      [
        [1, 'S00001', 925.65, 0, '2025-04-03', 'paid'],
        [2, 'S00002', 1000.67, 400, '2025-04-05', 'partial'],
        [3, 'S00003', 272.01, 0, '2025-04-10', 'in_payment'],
        [4, 'S00004', 355.74, 355.74, '2025-04-12', 'not_paid'],
      ] as Array<[number, string, number, number, string, string]>
    ).map(([n, order, total, due, dueDate, state]) => ({
      Name: `INV/2025/0000${n}`, Invoice_Number__c: `INV/2025/0000${n}`, Account__c: acc(n), Order_Reference__c: order,
      Amount_Total__c: total, Amount_Due__c: due, Due_Date__c: dueDate, Payment_State__c: state, Bank_Account__c: 'BE71 0961 2345 6769',
    })),
  };
}

// ---- simulator ------------------------------------------------------------------------

interface ApiResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const sfError = (status: number, errorCode: string, message: string, fields?: string[]): ApiResult => ({
  status,
  body: [{ message, errorCode, ...(fields ? { fields } : {}) }],
});
const NOT_FOUND = (): ApiResult => sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
const HALTED = 'The transaction was rolled back since another operation in the same transaction failed.';

function releaseLabel(major: number): string {
  const k = major - 62;
  return `${['Winter', 'Spring', 'Summer'][((k % 3) + 3) % 3]} '${25 + Math.floor(k / 3)}`;
}

const b64url = (text: string): Buffer => Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

/**
 * Starts a Salesforce REST simulator. `instance_url` in token responses is the
 * simulator's own url; every response under `/services/data/vXX.X` carries
 * `Sforce-Limit-Info`.
 *
 * @param options `clients` (connected apps); `apiVersion` (default `v62.0`), `tokenTtlMs`
 *   (default 2 h), `apiLimit` (default 15000), `staticTokens` (default none), `port` (default 0)
 * @example
 * const sf = await startSalesforceSimulator({ clients: [{ clientId: 'gw', clientSecret: 's3cret' }], apiLimit: 100 });
 * const token = await (await fetch(`${sf.url}/services/oauth2/token`, {
 *   method: 'POST',
 *   body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'gw', client_secret: 's3cret' }),
 * })).json();
 * await fetch(`${token.instance_url}/services/data/v62.0/query?q=SELECT+Id,Name+FROM+Account`, {
 *   headers: { authorization: `Bearer ${token.access_token}` },
 * });
 * await sf.close();
 */
export async function startSalesforceSimulator(options: SalesforceSimulatorOptions): Promise<SalesforceSimulatorHandle> {
  const apiVersion = options.apiVersion ?? 'v62.0';
  const newest = Number(apiVersion.slice(1));
  const versions = Array.from({ length: Math.max(1, Math.floor(newest) - 57) }, (_v, i) => Math.floor(newest) - i)
    .reverse()
    .map((major) => (major === Math.floor(newest) ? newest.toFixed(1) : `${major}.0`));
  const now = options.now ?? (() => new Date());
  const ttl = options.tokenTtlMs ?? 2 * 60 * 60 * 1000;
  const max = options.apiLimit ?? 15000;
  const batchSize = options.queryBatchSize ?? 2000;
  const schemas = objectSchemas();

  let store = new Map<string, Map<string, SfRecord>>();
  const counters = new Map<string, number>();
  const tokens = new Map<string, number>(); // token → issued at (ms)
  const cursors = new Map<string, SfRecord[]>();
  let used = 0;
  let cursorSeq = 0;

  const fieldOf = (obj: SfObject, name: string): SfField | undefined =>
    obj.fields.find((fd) => fd.name.toLowerCase() === name.toLowerCase());
  const schemaOf = (type: string): SfObject | undefined =>
    Object.values(schemas).find((o) => o.name.toLowerCase() === type.toLowerCase());
  const sobjectUrl = (version: string, type: string, id: string): string => `/services/data/v${version}/sobjects/${type}/${id}`;

  function findRecord(id: string): { type: string; rec: SfRecord } | undefined {
    for (const [type, table] of store) {
      const rec = table.get(id);
      if (rec) return { type, rec };
    }
    return undefined;
  }

  function insert(obj: SfObject, values: Record<string, unknown>): SfRecord {
    const n = (counters.get(obj.name) ?? 0) + 1;
    counters.set(obj.name, n);
    const stamp = sfDatetime(now());
    const rec = Object.fromEntries(obj.fields.map((fd) => [fd.name, fd.defaultValue ?? null])) as SfRecord;
    Object.assign(rec, { Id: salesforceId(obj.prefix, n), IsDeleted: false, OwnerId: USER_ID, CreatedDate: stamp, CreatedById: USER_ID, LastModifiedDate: stamp, LastModifiedById: USER_ID, SystemModstamp: stamp }, values);
    if (obj.autoNumber) rec[obj.autoNumber.field] = String(obj.autoNumber.start + n - 1).padStart(obj.autoNumber.width, '0');
    obj.derive?.(rec, undefined, stamp);
    store.get(obj.name)!.set(rec.Id, rec);
    return rec;
  }

  for (const obj of Object.values(schemas)) store.set(obj.name, new Map());
  for (const [type, rows] of Object.entries(salesforceSeed())) for (const row of rows) insert(schemas[type]!, row);

  /** Validates a create/update body; returns canonical field values or an error result. */
  function validate(obj: SfObject, body: unknown, existing: SfRecord | undefined): Record<string, unknown> | ApiResult {
    if (!isPlainObject(body)) return sfError(400, 'JSON_PARSER_ERROR', 'Cannot deserialize instance of sObject from non-object value');
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body)) {
      if (key === 'attributes') continue;
      if (key.toLowerCase() === 'id') return sfError(400, 'INVALID_FIELD', 'The Id field should not be specified in the sobject data.');
      const fd = fieldOf(obj, key);
      if (fd === undefined) return sfError(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${obj.name}`);
      if (fd.readonly) {
        return sfError(400, 'INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${fd.name}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`, [fd.name]);
      }
      if (value !== null) {
        const wrongType =
          (fd.type === 'boolean' && typeof value !== 'boolean') ||
          ((fd.type === 'double' || fd.type === 'currency') && typeof value !== 'number') ||
          (fd.type === 'date' && (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value))) ||
          (!['boolean', 'double', 'currency', 'date'].includes(fd.type) && typeof value !== 'string');
        if (wrongType) {
          return sfError(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of ${fd.type} from VALUE_STRING value ${JSON.stringify(value)} or request may be missing a required field`);
        }
        if (fd.restricted && !fd.picklist!.includes(value as string)) {
          return sfError(400, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `${fd.label}: bad value for restricted picklist field: ${String(value)}`, [fd.name]);
        }
        if (fd.type === 'reference') {
          const id = normaliseId(value as string);
          const target = id === undefined ? undefined : findRecord(id);
          if (id === undefined || !id.startsWith(schemas[fd.referenceTo!]!.prefix)) {
            return sfError(400, 'MALFORMED_ID', `${fd.label}: id value of incorrect type: ${String(value)}`, [fd.name]);
          }
          if (target === undefined || target.rec.IsDeleted) return sfError(400, 'INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', [fd.name]);
          values[fd.name] = id;
          continue;
        }
      }
      values[fd.name] = value;
    }
    const merged = { ...(existing ?? {}), ...values };
    const missing = obj.fields.filter((fd) => fd.required && (merged[fd.name] ?? fd.defaultValue ?? null) === null).map((fd) => fd.name);
    if (missing.length > 0) return sfError(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
    return values;
  }

  const isResult = (v: Record<string, unknown> | ApiResult): v is ApiResult => typeof v.status === 'number' && 'body' in v;

  function present(version: string, type: string, rec: SfRecord, fields?: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = { attributes: { type, url: sobjectUrl(version, type, rec.Id) } };
    const obj = schemas[type]!;
    for (const fd of fields === undefined ? obj.fields : fields.map((n) => fieldOf(obj, n)!)) out[fd.name] = rec[fd.name] ?? null;
    return out;
  }

  function update(obj: SfObject, rec: SfRecord, values: Record<string, unknown>): void {
    const before = { ...rec };
    const stamp = sfDatetime(now());
    Object.assign(rec, values, { LastModifiedDate: stamp, SystemModstamp: stamp });
    obj.derive?.(rec, before, stamp);
  }

  function createRecord(version: string, obj: SfObject, body: unknown): ApiResult {
    const values = validate(obj, body, undefined);
    if (isResult(values)) return values;
    const rec = insert(obj, values);
    return { status: 201, body: { id: rec.Id, success: true, errors: [] }, headers: { location: sobjectUrl(version, obj.name, rec.Id) } };
  }

  function sobjectRoute(method: string, version: string, parts: string[], query: URLSearchParams, body: unknown): ApiResult {
    const [typeName, idOrField, extValue] = parts;
    if (typeName === undefined) {
      return method === 'GET'
        ? { status: 200, body: { encoding: 'UTF-8', maxBatchSize: 200, sobjects: Object.values(schemas).map((o) => ({ name: o.name, label: o.name, keyPrefix: o.prefix, createable: true, updateable: true, deletable: true, queryable: true, urls: { sobject: `/services/data/v${version}/sobjects/${o.name}` } })) } }
        : sfError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are GET,HEAD`);
    }
    const obj = schemaOf(typeName);
    if (obj === undefined) return NOT_FOUND();
    if (idOrField === undefined) {
      if (method === 'POST') return createRecord(version, obj, body);
      if (method === 'GET') return { status: 200, body: { objectDescribe: { name: obj.name, keyPrefix: obj.prefix }, recentItems: [] } };
      return sfError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are GET,HEAD,POST`);
    }
    if (idOrField === 'describe' && extValue === undefined && method === 'GET') {
      return { status: 200, body: { name: obj.name, keyPrefix: obj.prefix, fields: obj.fields.map((fd) => ({ name: fd.name, label: fd.label, type: fd.type, nillable: !fd.required, createable: !fd.readonly, updateable: !fd.readonly, externalId: Boolean(fd.externalId), referenceTo: fd.referenceTo ? [fd.referenceTo] : [], picklistValues: (fd.picklist ?? []).map((v) => ({ value: v, label: v, active: true })), restrictedPicklist: Boolean(fd.restricted) })) } };
    }
    let rec: SfRecord | undefined;
    if (extValue !== undefined) {
      // /sobjects/Account/ERP_Customer_Id__c/C-1001: access or upsert by external id.
      const extField = fieldOf(obj, idOrField);
      if (!extField?.externalId) return sfError(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${idOrField}`);
      const matches = [...store.get(obj.name)!.values()].filter((r) => !r.IsDeleted && r[extField.name] === extValue);
      if (matches.length > 1) return { status: 300, body: matches.map((r) => sobjectUrl(version, obj.name, r.Id)) };
      if (method === 'PATCH') {
        if (matches.length === 0) {
          const created = createRecord(version, obj, isPlainObject(body) ? { ...body, [extField.name]: extValue } : body);
          if (created.status === 201) (created.body as Record<string, unknown>).created = true;
          return created;
        }
        const values = validate(obj, body, matches[0]);
        if (isResult(values)) return values;
        update(obj, matches[0]!, values);
        return { status: 200, body: { id: matches[0]!.Id, success: true, errors: [], created: false } };
      }
      rec = matches[0];
      if (rec === undefined) return NOT_FOUND();
    } else {
      const id = normaliseId(idOrField);
      rec = id === undefined ? undefined : store.get(obj.name)!.get(id);
      if (rec === undefined) return sfError(404, 'NOT_FOUND', id === undefined ? `Provided external ID field does not exist or is not accessible: ${idOrField}` : 'The requested resource does not exist');
      if (rec.IsDeleted) return sfError(404, 'ENTITY_IS_DELETED', 'entity is deleted');
    }
    if (method === 'GET') {
      const fields = query.get('fields')?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = fields?.find((n) => fieldOf(obj, n) === undefined);
      if (unknown !== undefined) return sfError(400, 'INVALID_FIELD', `No such column '${unknown}' on entity '${obj.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`);
      return { status: 200, body: present(version, obj.name, rec, fields && ['Id', ...fields.filter((n) => n.toLowerCase() !== 'id')]) };
    }
    if (method === 'PATCH') {
      const values = validate(obj, body, rec);
      if (isResult(values)) return values;
      update(obj, rec, values);
      return { status: 204 };
    }
    if (method === 'DELETE') {
      update(obj, rec, { IsDeleted: true });
      return { status: 204 };
    }
    return sfError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are GET,HEAD,PATCH,DELETE`);
  }

  function runQuery(version: string, soql: string | null, includeDeleted: boolean): ApiResult {
    if (soql === null || soql.trim() === '') return sfError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    try {
      const q = parseSoql(soql);
      const obj = schemaOf(q.object);
      if (obj === undefined) {
        throw new SoqlError('INVALID_TYPE', `sObject type '${q.object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`);
      }
      /** Resolves `Field` or `Relationship.Field` to [field owner schema, field, relationship name?]. */
      const resolvePath = (path: string): { fd: SfField; rel?: { name: string; fd: SfField; obj: SfObject } } => {
        const noColumn = (): never => {
          throw new SoqlError('INVALID_FIELD', `No such column '${path}' on entity '${obj.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`);
        };
        const [first, second, ...more] = path.split('.');
        if (second === undefined) return { fd: fieldOf(obj, first!) ?? noColumn() };
        const refField = fieldOf(obj, `${first}Id`);
        if (more.length > 0 || refField?.type !== 'reference') return noColumn();
        const target = schemas[refField.referenceTo!]!;
        return { fd: fieldOf(target, second) ?? noColumn(), rel: { name: refField.referenceTo!, fd: refField, obj: target } };
      };
      const valueAt = (rec: SfRecord, path: string): unknown => {
        const { fd, rel } = resolvePath(path);
        if (rel === undefined) return rec[fd.name] ?? null;
        const target = typeof rec[rel.fd.name] === 'string' ? store.get(rel.obj.name)!.get(rec[rel.fd.name] as string) : undefined;
        return target ? (target[fd.name] ?? null) : null;
      };
      const normalise = (path: string, v: SoqlValue): SoqlValue => {
        const { fd } = resolvePath(path);
        return (fd.type === 'id' || fd.type === 'reference') && typeof v === 'string' ? (normaliseId(v) ?? v) : v;
      };
      q.fields.forEach(resolvePath);
      let rows = [...store.get(obj.name)!.values()].filter(
        (rec) => (includeDeleted || !rec.IsDeleted) && (q.where === undefined || evaluateCondition(q.where, (p) => valueAt(rec, p), normalise)),
      );
      if (q.orderBy.length > 0) {
        rows.sort((a, b) => {
          for (const { field, desc, nullsLast } of q.orderBy) {
            const x = valueAt(a, field);
            const y = valueAt(b, field);
            if (x === y) continue;
            if (x === null) return nullsLast ? 1 : -1;
            if (y === null) return nullsLast ? -1 : 1;
            const cmp = typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y) : (x as number) < (y as number) ? -1 : 1;
            return desc ? -cmp : cmp;
          }
          return 0;
        });
      }
      rows = rows.slice(q.offset ?? 0, q.limit === undefined ? undefined : (q.offset ?? 0) + q.limit);
      if (q.count) return { status: 200, body: { totalSize: rows.length, done: true, records: [] } };
      const records = rows.map((rec) => {
        const out: Record<string, unknown> = { attributes: { type: obj.name, url: sobjectUrl(version, obj.name, rec.Id) } };
        for (const path of q.fields) {
          const { fd, rel } = resolvePath(path);
          if (rel === undefined) {
            out[fd.name] = rec[fd.name] ?? null;
            continue;
          }
          const targetId = rec[rel.fd.name];
          const target = typeof targetId === 'string' ? store.get(rel.obj.name)!.get(targetId) : undefined;
          if (target === undefined) out[rel.name] = null;
          else {
            const nested = (out[rel.name] ??= { attributes: { type: rel.obj.name, url: sobjectUrl(version, rel.obj.name, target.Id) } }) as Record<string, unknown>;
            nested[fd.name] = target[fd.name] ?? null;
          }
        }
        return out as SfRecord;
      });
      return page(version, records, 0, records.length);
    } catch (err) {
      if (err instanceof SoqlError) return sfError(400, err.errorCode, err.message);
      throw err;
    }
  }

  function page(version: string, all: SfRecord[], offset: number, totalSize: number): ApiResult {
    const batch = all.slice(offset, offset + batchSize);
    const done = offset + batch.length >= all.length;
    const body: Record<string, unknown> = { totalSize, done, records: batch };
    if (!done) {
      cursorSeq += 1;
      const cursor = salesforceId('01g', cursorSeq);
      cursors.set(cursor, all);
      body.nextRecordsUrl = `/services/data/v${version}/query/${cursor}-${offset + batch.length}`;
    }
    return { status: 200, body };
  }

  function composite(body: unknown): ApiResult {
    if (!isPlainObject(body) || !Array.isArray(body.compositeRequest)) {
      return sfError(400, 'JSON_PARSER_ERROR', 'The request body must contain a compositeRequest array');
    }
    const subs = body.compositeRequest as unknown[];
    if (subs.length === 0 || subs.length > 25) return sfError(400, 'INVALID_API_INPUT', 'Composite request must contain between 1 and 25 subrequests');
    const allOrNone = body.allOrNone === true;
    const snapshot = allOrNone ? cloneStore() : undefined;
    const results = new Map<string, { status: number; body: unknown }>();
    const out: Array<{ body: unknown; httpHeaders: Record<string, string>; httpStatusCode: number; referenceId: string }> = [];
    let failed = false;
    const halted = (referenceId: string, message = HALTED) => ({ body: [{ errorCode: 'PROCESSING_HALTED', message }], httpHeaders: {}, httpStatusCode: 400, referenceId });

    for (const raw of subs) {
      const sub = isPlainObject(raw) ? raw : {};
      const referenceId = typeof sub.referenceId === 'string' ? sub.referenceId : '';
      if (failed) {
        out.push(halted(referenceId));
        continue;
      }
      let unresolved: string | undefined;
      const substitute = (value: unknown): unknown => {
        if (typeof value === 'string') {
          return value.replace(/@\{([^}]+)\}/g, (whole, expr: string) => {
            const [ref, ...path] = expr.split(/\.|\[(\d+)\]/).filter((s) => s !== undefined && s !== '');
            const result = results.get(ref!);
            let cur: unknown = result && result.status < 400 ? result.body : undefined;
            for (const key of path) cur = isPlainObject(cur) || Array.isArray(cur) ? (cur as Record<string, unknown>)[key] : undefined;
            if (cur === undefined || cur === null) {
              unresolved ??= `Invalid reference specified. No value for ${expr} found in ${ref}. Provided referenceId ('${ref}') must be a valid reference.`;
              return whole;
            }
            return String(cur);
          });
        }
        if (Array.isArray(value)) return value.map(substitute);
        if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)]));
        return value;
      };
      const url = substitute(sub.url);
      const subBody = substitute(sub.body);
      let result: ApiResult;
      if (unresolved !== undefined) result = { status: 400, body: [{ errorCode: 'PROCESSING_HALTED', message: unresolved }] };
      else {
        const m = typeof url === 'string' ? /^\/services\/data\/v(\d+\.\d)(\/[^?]*)?(?:\?(.*))?$/.exec(url) : null;
        result = m === null || !versions.includes(m[1]!)
          ? sfError(400, 'INVALID_API_INPUT', `Invalid subrequest url: ${String(url)}`)
          : dataApi(String(sub.method ?? 'GET').toUpperCase(), m[1]!, m[2] ?? '/', new URLSearchParams(m[3] ?? ''), subBody);
      }
      results.set(referenceId, { status: result.status, body: result.body });
      out.push({ body: result.body ?? null, httpHeaders: result.headers?.location ? { Location: result.headers.location } : {}, httpStatusCode: result.status, referenceId });
      if (result.status >= 400 && allOrNone) failed = true;
    }
    if (failed && snapshot) {
      store = snapshot.store;
      for (const [k, v] of snapshot.counters) counters.set(k, v);
      // Everything that had succeeded was rolled back; the failing subrequest keeps its own error.
      for (let i = 0; i < out.length; i += 1) if (out[i]!.httpStatusCode < 400) out[i] = halted(out[i]!.referenceId);
    }
    return { status: 200, body: { compositeResponse: out } };
  }

  function cloneStore(): { store: Map<string, Map<string, SfRecord>>; counters: Map<string, number> } {
    return { store: new Map([...store].map(([k, v]) => [k, clone(v)])), counters: new Map(counters) };
  }

  /** Routes one authenticated API call below `/services/data/vX.Y`. Also used by composite subrequests. */
  function dataApi(method: string, version: string, path: string, query: URLSearchParams, body: unknown): ApiResult {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [head, ...rest] = parts;
    if (head === undefined) {
      const base = `/services/data/v${version}`;
      return { status: 200, body: { sobjects: `${base}/sobjects`, query: `${base}/query`, queryAll: `${base}/queryAll`, composite: `${base}/composite`, limits: `${base}/limits` } };
    }
    if (head === 'sobjects') return sobjectRoute(method, version, rest, query, body);
    if ((head === 'query' || head === 'queryAll') && method === 'GET') {
      if (rest.length === 0) return runQuery(version, query.get('q'), head === 'queryAll');
      const m = /^(.+)-(\d+)$/.exec(rest[0]!);
      const all = m ? cursors.get(m[1]!) : undefined;
      return all === undefined ? sfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator') : page(version, all, Number(m![2]), all.length);
    }
    if (head === 'composite' && rest.length === 0 && method === 'POST') return composite(body);
    if (head === 'limits' && method === 'GET') {
      return { status: 200, body: { DailyApiRequests: { Max: max, Remaining: Math.max(0, max - used) }, DailyAsyncApexExecutions: { Max: 250000, Remaining: 250000 }, DataStorageMB: { Max: 5, Remaining: 5 } } };
    }
    return NOT_FOUND();
  }

  // ---- OAuth ----------------------------------------------------------------------------

  const oauthError = (error: string, description: string): SimResponse => jsonResponse(400, { error, error_description: description });

  function mintToken(req: SimRequest, client: SalesforceClient, flow: 'client_credentials' | 'jwt'): SimResponse {
    const token = `${ORG_ID}!AQ${randomBytes(36).toString('base64url')}`;
    const issuedAt = now().getTime();
    tokens.set(token, issuedAt);
    const id = `https://login.salesforce.com/id/${toCaseSafeId(ORG_ID)}/${toCaseSafeId(USER_ID)}`;
    const body: Record<string, unknown> = { access_token: token };
    if (client.clientSecret !== undefined) {
      body.signature = createHmac('sha256', client.clientSecret).update(id + String(issuedAt)).digest('base64');
    }
    if (flow === 'client_credentials') body.token_format = 'opaque';
    Object.assign(body, { scope: 'api', instance_url: req.baseUrl, id, token_type: 'Bearer', issued_at: String(issuedAt) });
    return jsonResponse(200, body);
  }

  function jwtBearer(req: SimRequest, assertion: string | null): SimResponse {
    const parts = (assertion ?? '').split('.');
    if (parts.length !== 3) return oauthError('invalid_grant', 'invalid assertion');
    const [h, p, s] = parts as [string, string, string];
    const headerJson = tryParseJson(b64url(h).toString('utf8'));
    const claimsJson = tryParseJson(b64url(p).toString('utf8'));
    if (!headerJson.ok || !claimsJson.ok || !isPlainObject(headerJson.value) || !isPlainObject(claimsJson.value) || headerJson.value.alg !== 'RS256') {
      return oauthError('invalid_grant', 'invalid assertion');
    }
    const claims = claimsJson.value;
    const client = options.clients.find((c) => c.clientId === claims.iss && c.jwtPublicKeyPem !== undefined);
    if (client === undefined) return oauthError('invalid_client_id', 'client identifier invalid');
    let signatureOk = false;
    try {
      signatureOk = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), client.jwtPublicKeyPem!, b64url(s));
    } catch {
      signatureOk = false;
    }
    if (!signatureOk) return oauthError('invalid_grant', 'invalid assertion');
    const audiences = ['https://login.salesforce.com', 'https://test.salesforce.com', req.baseUrl];
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.some((a) => audiences.includes(String(a).replace(/\/$/, '')))) return oauthError('invalid_grant', 'audience is invalid');
    const nowS = now().getTime() / 1000;
    // exp must be in the future and at most a few minutes ahead (5 min here).
    if (typeof claims.exp !== 'number' || claims.exp < nowS || claims.exp > nowS + 300) return oauthError('invalid_grant', 'invalid assertion');
    if (client.username !== undefined && claims.sub !== client.username) return oauthError('invalid_grant', "user hasn't approved this consumer");
    return mintToken(req, client, 'jwt');
  }

  function tokenEndpoint(req: SimRequest): SimResponse {
    if (req.method !== 'POST') return oauthError('invalid_request', 'must use HTTP POST');
    const form = new URLSearchParams(req.body);
    const grant = form.get('grant_type');
    if (grant === 'client_credentials') {
      const client = options.clients.find((c) => c.clientId === form.get('client_id'));
      if (client === undefined) return oauthError('invalid_client_id', 'client identifier invalid');
      if (client.clientSecret === undefined || client.clientSecret !== form.get('client_secret')) {
        return oauthError('invalid_client', 'invalid client credentials');
      }
      return mintToken(req, client, 'client_credentials');
    }
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') return jwtBearer(req, form.get('assertion'));
    return oauthError('unsupported_grant_type', 'grant type not supported');
  }

  // ---- HTTP -----------------------------------------------------------------------------

  function handle(req: SimRequest): SimResponse {
    const path = req.url.pathname;
    if (path === '/services/oauth2/token') return tokenEndpoint(req);
    if (path === '/services/data' || path === '/services/data/') {
      return jsonResponse(200, versions.map((v) => ({ label: releaseLabel(Math.floor(Number(v))), url: `/services/data/v${v}`, version: v })));
    }
    const m = /^\/services\/data\/v(\d+\.\d)(\/.*)?$/.exec(path);
    if (m === null) return jsonResponse(404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    const limitHeader = (): Record<string, string> => ({ 'sforce-limit-info': `api-usage=${used}/${max}` });
    if (!versions.includes(m[1]!)) return jsonResponse(404, NOT_FOUND().body, limitHeader());
    const auth = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '');
    const token = auth?.[1];
    const issued = token === undefined ? undefined : tokens.get(token);
    const valid = token !== undefined && ((options.staticTokens ?? []).includes(token) || (issued !== undefined && now().getTime() - issued < ttl));
    if (!valid) return jsonResponse(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }], limitHeader());
    if (used >= max) return jsonResponse(403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], limitHeader());
    used += 1;
    let body: unknown;
    if (req.body.length > 0) {
      const parsed = tryParseJson(req.body);
      if (!parsed.ok) return jsonResponse(400, [{ message: `Unexpected character: ${parsed.error}`, errorCode: 'JSON_PARSER_ERROR' }], limitHeader());
      body = parsed.value;
    }
    const result = dataApi(req.method, m[1]!, m[2] ?? '/', req.url.searchParams, body);
    const headers = { ...limitHeader(), ...(result.headers ?? {}) };
    return result.body === undefined ? { status: result.status, headers } : jsonResponse(result.status, result.body, headers);
  }

  const server = await startSimulatorServer(handle, options);
  return Object.assign(server, {
    expireTokens: () => tokens.clear(),
    apiUsage: () => ({ used, max }),
    records: (type: string) => clone([...(store.get(type)?.values() ?? [])].filter((r) => !r.IsDeleted)),
  });
}
