/**
 * @module The demo's curl examples: lists that the README shows and `test/demo/demo.test.ts`
 * runs verbatim (through `sh`) against a started demo, so the two cannot drift. URLs carry the
 * ports as placeholders (`{{GATEWAY_PORT}}`, `{{STATUS_PORT}}`, `{{CONTROL_PLANE_PORT}}`). Calls
 * made as a consuming system use a shell variable holding its token (`$STOREFRONT_TOKEN`), set
 * by the token commands below, or the finance jobs' demo API key; calls to the admin API use
 * `$ADMIN_TOKEN`, a token of the automation client.
 */

export interface DemoExample {
  /** Stable key (tests refer to it). */
  id: string;
  /** One line for the README heading. */
  title: string;
  /** Arguments after `curl`, with port placeholders. */
  args: readonly string[];
  expect: {
    /** HTTP status of the answer. */
    status: number;
    /** Substrings the answer (status line, headers and body as `curl -i` prints them) contains. */
    contains: readonly string[];
    /** What to show under the command in the README: the telling part of the answer. */
    excerpt: string;
  };
}

export interface ExamplePorts {
  gatewayPort: number;
  statusPort: number;
  /** Control-plane port: the admin API under `/api/v1`, the dev OpenID provider under `/oidc`. */
  controlPlanePort: number;
}

export const DEFAULT_EXAMPLE_PORTS: ExamplePorts = { gatewayPort: 8080, statusPort: 8081, controlPlanePort: 4000 };

/** A shell variable holding a demo client's access token (client-credentials grant). */
export interface DemoTokenCommand {
  variable: string;
  clientId: string;
  /** The dev provider's demo secret (public by design; see control-plane/dev-idp/demo-identities.ts). */
  clientSecret: string;
}

export const DEMO_TOKEN_COMMANDS: readonly DemoTokenCommand[] = [
  { variable: 'STOREFRONT_TOKEN', clientId: 'storefront', clientSecret: 'demo-storefront-secret' },
  { variable: 'CRM_SYNC_TOKEN', clientId: 'crm-sync', clientSecret: 'demo-crm-sync-secret' },
  { variable: 'SERVICE_DESK_TOKEN', clientId: 'service-desk', clientSecret: 'demo-service-desk-secret' },
];

/**
 * A token of the automation client (`gatehouse-automation`, granted the admin role by the
 * control plane), for the admin API examples.
 */
export const ADMIN_TOKEN_COMMAND: DemoTokenCommand = { variable: 'ADMIN_TOKEN', clientId: 'gatehouse-automation', clientSecret: 'demo-automation-secret' };

/**
 * One `VAR=$(curl … /oidc/token | sed …)` line: a token from the dev provider, kept in a shell
 * variable (sed, not jq, so nothing beyond curl is needed).
 */
export function renderTokenCommand(command: DemoTokenCommand, ports: ExamplePorts = DEFAULT_EXAMPLE_PORTS): string {
  return (
    `${command.variable}=$(curl -sS -u ${command.clientId}:${command.clientSecret} -d grant_type=client_credentials ` +
    `http://127.0.0.1:${ports.controlPlanePort}/oidc/token | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`
  );
}

const bearer = (variable: string): readonly string[] => ['-H', `authorization: Bearer $${variable}`];
/** The finance jobs' demo API key (DEMO_FINANCE_API_KEY in control-plane/demo/catalogue.ts). */
const FINANCE_KEY = ['-H', 'x-api-key: ghk_finance.demo-finance-jobs-api-key'] as const;

const GW = 'http://127.0.0.1:{{GATEWAY_PORT}}';
const STATUS = 'http://127.0.0.1:{{STATUS_PORT}}';
const ADMIN_API = 'http://127.0.0.1:{{CONTROL_PLANE_PORT}}/api/v1';
const JSON_BODY = ['-H', 'content-type: application/json'] as const;
/** Every example prints the status line and headers too: the status is part of the lesson. */
const CURL = ['-sS', '-i'] as const;

export const DEMO_EXAMPLES: readonly DemoExample[] = [
  {
    id: 'erp-sales-orders',
    title: 'Confirmed sale orders from Odoo (JSON-2 search_read with a domain), each with the canonical gatehouse_status',
    args: [
      ...CURL,
      '-X',
      'POST',
      `${GW}/erp-sales/v1/sale.order/search_read`,
      ...JSON_BODY,
      ...bearer('STOREFRONT_TOKEN'),
      '-d',
      '{"domain":[["state","=","sale"]],"fields":["name","partner_id","amount_total","invoice_status"],"limit":3}',
    ],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"name":"S00007"', '"partner_id":[15,"Priya Shah"]', '"gatehouse_status":"'],
      excerpt:
        'HTTP/1.1 200 OK\n' +
        '[{"id":7,"name":"S00007","partner_id":[15,"Priya Shah"],"amount_total":108.78,"invoice_status":"to invoice","gatehouse_status":"…"},' +
        '{"id":4,"name":"S00004",…},{"id":3,"name":"S00003",…}]',
    },
  },
  {
    id: 'erp-sales-invoice',
    title: "One invoice's payment state (JSON-2 read of account.move 42)",
    args: [
      ...CURL,
      '-X',
      'POST',
      `${GW}/erp-sales/v1/account.move/read`,
      ...JSON_BODY,
      ...FINANCE_KEY,
      '-d',
      '{"ids":[42],"fields":["name","invoice_origin","amount_total","amount_residual","payment_state"]}',
    ],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"name":"INV/2025/00002"', '"payment_state":"partial"'],
      excerpt:
        'HTTP/1.1 200 OK\n' +
        '[{"id":42,"name":"INV/2025/00002","invoice_origin":"S00002","amount_total":1000.67,"amount_residual":400,"payment_state":"partial"}]',
    },
  },
  {
    id: 'erp-rpc-partners',
    title: 'Legacy JSON-RPC search_read (the gateway fills in database, uid and key: send null)',
    args: [
      ...CURL,
      '-X',
      'POST',
      `${GW}/erp-rpc/v1/jsonrpc`,
      ...JSON_BODY,
      ...FINANCE_KEY,
      '-d',
      '{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object","method":"execute_kw",' +
        '"args":[null,null,null,"res.partner","search_read",[[["is_company","=",true]]],{"fields":["name","ref","city"],"limit":3}]}}',
    ],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"jsonrpc":"2.0"', '"name":"Harbor Outfitters","ref":"C-1001"'],
      excerpt:
        'HTTP/1.1 200 OK\n' +
        '{"jsonrpc":"2.0","id":1,"result":[{"id":10,"name":"Harbor Outfitters","ref":"C-1001","city":"Antwerp"},' +
        '{"id":11,"name":"Lumen Home Goods",…},{"id":12,"name":"Northwind Cycles",…}]}',
    },
  },
  {
    id: 'crm-soql',
    title: 'A SOQL query against Salesforce',
    args: [...CURL, ...bearer('CRM_SYNC_TOKEN'), '-G', `${GW}/crm/v1/query`, '--data-urlencode', "q=SELECT Id, Name, Industry FROM Account WHERE Type = 'Customer - Direct' ORDER BY Name"],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"totalSize":3', '"Name":"Harbor Outfitters"'],
      excerpt:
        'HTTP/1.1 200 OK\nsforce-limit-info: api-usage=1/15000\n' +
        '{"totalSize":3,"done":true,"records":[{"attributes":{"type":"Account",…},"Id":"001Dn0000000001IAA","Name":"Harbor Outfitters","Industry":"Retail"},…]}',
    },
  },
  {
    id: 'crm-account',
    title: 'One Salesforce Account by id',
    args: [...CURL, ...bearer('CRM_SYNC_TOKEN'), `${GW}/crm/v1/sobjects/Account/001Dn0000000001IAA`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"Id":"001Dn0000000001IAA"', '"Name":"Harbor Outfitters"', '"ERP_Customer_Id__c":"C-1001"'],
      excerpt: 'HTTP/1.1 200 OK\n{"attributes":{"type":"Account",…},"Id":"001Dn0000000001IAA",…,"Name":"Harbor Outfitters",…,"ERP_Customer_Id__c":"C-1001"}',
    },
  },
  {
    id: 'service-desk-tickets',
    title: 'List Zendesk tickets (offset paging)',
    args: [...CURL, ...bearer('SERVICE_DESK_TOKEN'), `${GW}/service-desk/v1/tickets.json?per_page=2`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"id":1001', '"subject":"Order S00004 not delivered yet"', '"id":1002'],
      excerpt:
        'HTTP/1.1 200 OK\nx-rate-limit: 700\n' +
        '{"tickets":[{…,"id":1001,"external_id":"S00004",…,"subject":"Order S00004 not delivered yet",…,"status":"open",…},{…,"id":1002,…}],"next_page":"…?page=2&per_page=2",…}',
    },
  },
  {
    id: 'service-desk-create',
    title: 'Create a Zendesk ticket',
    args: [
      ...CURL,
      '-X',
      'POST',
      `${GW}/service-desk/v1/tickets.json`,
      ...JSON_BODY,
      ...bearer('SERVICE_DESK_TOKEN'),
      '-d',
      '{"ticket":{"subject":"Oak dining chair wobbles (S00001)","comment":{"body":"One of the four chairs from order S00001 wobbles."},' +
        '"type":"problem","priority":"normal","external_id":"S00001","requester":{"name":"Jane Doe","email":"jane.doe@harbor-outfitters.example"}}}',
    ],
    expect: {
      status: 201,
      contains: ['HTTP/1.1 201 Created', '"subject":"Oak dining chair wobbles (S00001)"', '"status":"new"'],
      excerpt: 'HTTP/1.1 201 Created\n{"ticket":{…,"id":1006,"external_id":"S00001",…,"subject":"Oak dining chair wobbles (S00001)",…,"status":"new",…},"audit":{…}}',
    },
  },
  {
    id: 'no-token',
    title: 'No credential: 401 with a Bearer challenge, the upstream is never called',
    args: [...CURL, `${GW}/crm/v1/sobjects/Account/001Dn0000000001IAA`],
    expect: {
      status: 401,
      contains: ['HTTP/1.1 401 Unauthorized', 'www-authenticate: Bearer realm="gatehouse"', '"code":"auth.token_missing"'],
      excerpt:
        'HTTP/1.1 401 Unauthorized\nwww-authenticate: Bearer realm="gatehouse"\ncontent-type: application/problem+json\n' +
        '{"type":"https://gatehouse.dev/problems/auth.token_missing","title":"Credentials missing","status":401,…,"code":"auth.token_missing","traceId":"…"}',
    },
  },
  {
    id: 'not-subscribed',
    title: 'A valid token of a consumer with no subscription to this API: 403',
    args: [...CURL, ...bearer('STOREFRONT_TOKEN'), `${GW}/crm/v1/sobjects/Account/001Dn0000000001IAA`],
    expect: {
      status: 403,
      contains: ['HTTP/1.1 403 Forbidden', '"code":"access.not_subscribed"'],
      excerpt:
        'HTTP/1.1 403 Forbidden\ncontent-type: application/problem+json\n' +
        '{"type":"https://gatehouse.dev/problems/access.not_subscribed","title":"No active subscription","status":403,…,"code":"access.not_subscribed","traceId":"…"}',
    },
  },
  {
    id: 'scope-missing',
    title: "Subscribed, but the storefront's plan grants no invoices:read: 403 naming the scope",
    args: [
      ...CURL,
      '-X',
      'POST',
      `${GW}/erp-sales/v1/account.move/read`,
      ...JSON_BODY,
      ...bearer('STOREFRONT_TOKEN'),
      '-d',
      '{"ids":[42],"fields":["name","payment_state"]}',
    ],
    expect: {
      status: 403,
      contains: ['HTTP/1.1 403 Forbidden', '"code":"access.scope_missing"', 'invoices:read'],
      excerpt:
        'HTTP/1.1 403 Forbidden\ncontent-type: application/problem+json\n' +
        '{"type":"https://gatehouse.dev/problems/access.scope_missing",…,"status":403,…,"code":"access.scope_missing","scope":"invoices:read","traceId":"…"}',
    },
  },
  {
    id: 'ownership-refused',
    title: 'The storefront may place orders but not confirm them: the ERP owns confirmed orders (403, Odoo is never called)',
    args: [...CURL, '-X', 'POST', `${GW}/erp-sales/v1/sale.order/action_confirm`, ...JSON_BODY, ...bearer('STOREFRONT_TOKEN'), '-d', '{"ids":[7]}'],
    expect: {
      status: 403,
      contains: ['HTTP/1.1 403 Forbidden', '"code":"ownership.write_denied"', '"entity":"order"', '"owners":["erp"]'],
      excerpt:
        'HTTP/1.1 403 Forbidden\n' +
        '{"type":"https://gatehouse.dev/problems/ownership.write_denied","title":"Write refused: not the system of record","status":403,' +
        '"detail":"…","code":"ownership.write_denied","traceId":"…","entity":"order",…,"owners":["erp"],…}',
    },
  },
  {
    id: 'contract-refused',
    title: "A body the contract refuses (a new ticket needs its first comment): 400 naming the field, Zendesk is never called",
    args: [
      ...CURL,
      '-X',
      'POST',
      `${GW}/service-desk/v1/tickets.json`,
      ...JSON_BODY,
      ...bearer('SERVICE_DESK_TOKEN'),
      '-d',
      '{"ticket":{"subject":"Where is my order?"}}',
    ],
    expect: {
      status: 400,
      contains: ['HTTP/1.1 400 Bad Request', '"code":"contract.request_invalid"', '"errors":[{"pointer":"/body/ticket/comment","detail":"is required"}]'],
      excerpt:
        'HTTP/1.1 400 Bad Request\ncontent-type: application/problem+json\n' +
        '{"type":"https://gatehouse.dev/problems/contract.request_invalid","title":"Request does not match the contract","status":400,' +
        '"detail":"The request does not match operation createTicket: /body/ticket/comment is required.","code":"contract.request_invalid","traceId":"…",' +
        '"errors":[{"pointer":"/body/ticket/comment","detail":"is required"}]}',
    },
  },
  {
    id: 'hygiene-refused',
    title: 'Refused by request hygiene before routing: a dot segment (curl would normalise it away without --path-as-is)',
    args: [...CURL, '--path-as-is', `${GW}/erp-sales/v1/../admin`],
    expect: {
      status: 400,
      contains: ['HTTP/1.1 400 Bad Request', 'content-type: application/problem+json', '"code":"request.invalid_path"', '"traceId":"'],
      excerpt:
        'HTTP/1.1 400 Bad Request\ncontent-type: application/problem+json\n' +
        '{"type":"https://gatehouse.dev/problems/request.invalid_path","title":"Invalid request path","status":400,' +
        '"detail":"The path contains dot segments, empty segments, encoded separators, control characters or double encoding.",' +
        '"code":"request.invalid_path","traceId":"…"}',
    },
  },
  {
    id: 'undeclared-method',
    title: 'An undeclared method on a declared path: 405 with Allow',
    args: [...CURL, '-X', 'DELETE', `${GW}/crm/v1/sobjects/Account/001Dn0000000001IAA`],
    expect: {
      status: 405,
      contains: ['HTTP/1.1 405 Method Not Allowed', 'allow: GET, HEAD, PATCH', '"code":"route.method_not_allowed"'],
      excerpt:
        'HTTP/1.1 405 Method Not Allowed\nallow: GET, HEAD, PATCH\ncontent-type: application/problem+json\n' +
        '{"type":"https://gatehouse.dev/problems/route.method_not_allowed","title":"Method not allowed on this route","status":405,' +
        '"detail":"DELETE is not declared for this path.","code":"route.method_not_allowed","traceId":"…"}',
    },
  },
  {
    id: 'undeclared-operation',
    title: 'An undeclared operation (Odoo users are not published): 404, the ERP is never called',
    args: [...CURL, '-X', 'POST', `${GW}/erp-sales/v1/res.users/search_read`, ...JSON_BODY, '-d', '{"fields":["login"]}'],
    expect: {
      status: 404,
      contains: ['HTTP/1.1 404 Not Found', 'content-type: application/problem+json', '"code":"route.not_found"'],
      excerpt:
        'HTTP/1.1 404 Not Found\ncontent-type: application/problem+json\n' +
        '{"type":"https://gatehouse.dev/problems/route.not_found","title":"No such route","status":404,' +
        '"detail":"\\"erp-sales\\" v1 declares no operation at this path.","code":"route.not_found","traceId":"…"}',
    },
  },
  {
    id: 'health-ready',
    title: 'Readiness and the applied snapshot hash (status port)',
    args: [...CURL, `${STATUS}/health/ready`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"status":"ready"', '"snapshot":"'],
      excerpt: 'HTTP/1.1 200 OK\n{"status":"ready","snapshot":"<sha-256 of the snapshot>","appliedAt":"…"}',
    },
  },
  {
    id: 'metrics',
    title: 'Prometheus metrics (status port)',
    args: [...CURL, `${STATUS}/metrics`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '# TYPE gatehouse_requests_total counter', 'gatehouse_snapshot_info{hash="'],
      excerpt:
        'HTTP/1.1 200 OK\ncontent-type: text/plain; version=0.0.4; charset=utf-8\n…\n' +
        'gatehouse_requests_total{api="erp-sales",version="1.0.0",status="200"} 2\n' +
        'gatehouse_requests_total{api="crm",version="1.0.0",status="405"} 1\n…',
    },
  },
];

/**
 * The admin API on the demo (roles: the automation client acts as admin). Read-only, so they can
 * be run again and again; each shows what the seed and the running gateway did.
 */
export const ADMIN_EXAMPLES: readonly DemoExample[] = [
  {
    id: 'admin-gateway-nodes',
    title: 'Gateway nodes and the snapshot each one applies',
    args: [...CURL, ...bearer('ADMIN_TOKEN'), `${ADMIN_API}/gateway/nodes`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"snapshot":{"seq":', '"nodeId":"demo-gateway"', '"current":true'],
      excerpt:
        'HTTP/1.1 200 OK\n' +
        '{"snapshot":{"seq":1,"hash":"<sha-256 of the snapshot>","generatedAt":"…","publishedAt":"…"},' +
        '"items":[{"nodeId":"demo-gateway","appliedHash":"<the same hash>","current":true,"error":null,"lastSeen":"…"}]}',
    },
  },
  {
    id: 'admin-version-transitions',
    title: 'How erp-sales 1.0.0 came to be published: its lifecycle, who did what',
    args: [...CURL, ...bearer('ADMIN_TOKEN'), `${ADMIN_API}/apis/erp-sales/versions/1.0.0/transitions`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"from":"draft","to":"in_review","actor":"olivia.owner"', '"from":"in_review","to":"approved","actor":"rafael.reviewer"', '"from":"approved","to":"published","actor":"olivia.owner"'],
      excerpt:
        'HTTP/1.1 200 OK\n' +
        '{"items":[{"from":"draft","to":"in_review","actor":"olivia.owner","comment":null,"at":"…"},' +
        '{"from":"in_review","to":"approved","actor":"rafael.reviewer","comment":"Reviewed: …","at":"…"},' +
        '{"from":"approved","to":"published","actor":"olivia.owner","comment":null,"at":"…"}]}',
    },
  },
  {
    id: 'admin-subscriptions',
    title: "The finance jobs' subscriptions (active: the gateway lets them through)",
    args: [...CURL, ...bearer('ADMIN_TOKEN'), `${ADMIN_API}/subscriptions?consumer=finance-jobs`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"consumer":"finance-jobs"', '"api":"erp-rpc"', '"api":"erp-sales"', '"status":"active"'],
      excerpt:
        'HTTP/1.1 200 OK\n' +
        '{"items":[{"id":"sub_…","consumer":"finance-jobs","api":"erp-sales","major":1,"plan":"finance","status":"active","requestedBy":"adam.admin",…,"decidedBy":"olivia.owner",…},' +
        '{…,"api":"erp-rpc",…,"status":"active",…}]}',
    },
  },
  {
    id: 'admin-version-impact',
    title: 'Who calls erp-sales v1, from the access records the gateway ships (run the examples above first): whom deprecating it would affect',
    args: [...CURL, ...bearer('ADMIN_TOKEN'), `${ADMIN_API}/apis/erp-sales/versions/1.0.0/impact?days=7`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"api":"erp-sales","version":"1.0.0","days":7', '"usage":{"versions":["1.0.0"]', '"breaking":null'],
      excerpt:
        'HTTP/1.1 200 OK\n' +
        '{"api":"erp-sales","version":"1.0.0","days":7,"since":"…","usage":{"versions":["1.0.0"],"consumers":[{"consumer":"storefront","name":"Web storefront","calls":…,"lastSeen":"…",' +
        '"operations":[{"operationId":"…","calls":…,"lastSeen":"…"},…]},…]},"breaking":null}',
    },
  },
  {
    id: 'admin-audit-verify',
    title: 'The admin audit trail is hash-chained: verify it (the seed wrote the first events)',
    args: [...CURL, ...bearer('ADMIN_TOKEN'), `${ADMIN_API}/audit/verify`],
    expect: {
      status: 200,
      contains: ['HTTP/1.1 200 OK', '"intact":true'],
      excerpt: 'HTTP/1.1 200 OK\n{"intact":true,"events":54,"head":"<sha-256 of the last event>",…,"access":{"intact":true,"batches":…,"records":…,"head":"…"}}',
    },
  },
];

function fill(arg: string, ports: ExamplePorts): string {
  return arg
    .replaceAll('{{GATEWAY_PORT}}', String(ports.gatewayPort))
    .replaceAll('{{STATUS_PORT}}', String(ports.statusPort))
    .replaceAll('{{CONTROL_PLANE_PORT}}', String(ports.controlPlanePort));
}

/** The arguments to pass to `curl`, before the shell expands `$VARIABLE` token references. */
export function curlArgs(example: DemoExample, ports: ExamplePorts = DEFAULT_EXAMPLE_PORTS): string[] {
  return example.args.map((arg) => fill(arg, ports));
}

/**
 * POSIX-shell quoting: bare when safe; double quotes for a token variable reference (expanded)
 * and for text with single quotes but nothing the shell expands inside double quotes (SOQL
 * literals); else single quotes, `'\''` escaping.
 */
function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  if (/^[A-Za-z0-9 :-]*\$[A-Z_]+_TOKEN$/.test(arg)) return `"${arg}"`;
  if (arg.includes("'") && !/["$`\\!]/.test(arg)) return `"${arg}"`;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The example as one shell command line, for the README and the start banner.
 *
 * @example
 * const ready = DEMO_EXAMPLES.find((e) => e.id === 'health-ready')!;
 * renderCurlCommand(ready); // "curl -sS -i http://127.0.0.1:8081/health/ready"
 */
export function renderCurlCommand(example: DemoExample, ports: ExamplePorts = DEFAULT_EXAMPLE_PORTS): string {
  return ['curl', ...curlArgs(example, ports).map(shellQuote)].join(' ');
}

/**
 * The examples as a README section (Markdown), one heading, command and expected excerpt each.
 *
 * @example
 * // node --import tsx -e "import('./gateway/demo/examples.ts').then((m) => console.log(m.renderExamplesMarkdown()))"
 * const markdown = renderExamplesMarkdown();
 */
export function renderExamplesMarkdown(ports: ExamplePorts = DEFAULT_EXAMPLE_PORTS): string {
  const tokens = `First, a token for each of three demo clients, kept in shell variables (they live 10 minutes; run these again after):\n\n\`\`\`sh\n${DEMO_TOKEN_COMMANDS.map((c) => renderTokenCommand(c, ports)).join('\n')}\n\`\`\`\n\n`;
  return tokens + DEMO_EXAMPLES.map(
    (example) => `#### ${example.title}\n\n\`\`\`sh\n${renderCurlCommand(example, ports)}\n\`\`\`\n\n\`\`\`text\n${example.expect.excerpt}\n\`\`\`\n`,
  ).join('\n');
}

/**
 * The admin examples as a README section (Markdown): the admin token command, then one heading,
 * command and expected excerpt per example.
 *
 * @example
 * const markdown = renderAdminExamplesMarkdown();
 */
export function renderAdminExamplesMarkdown(ports: ExamplePorts = DEFAULT_EXAMPLE_PORTS): string {
  const token = `\`\`\`sh\n${renderTokenCommand(ADMIN_TOKEN_COMMAND, ports)}\n\`\`\`\n\n`;
  return token + ADMIN_EXAMPLES.map(
    (example) => `#### ${example.title}\n\n\`\`\`sh\n${renderCurlCommand(example, ports)}\n\`\`\`\n\n\`\`\`text\n${example.expect.excerpt}\n\`\`\`\n`,
  ).join('\n');
}
