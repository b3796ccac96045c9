/**
 * @module Sends bytes exactly as written (fetch and http.request normalise or refuse the
 * malformed paths that hygiene tests need) and parses the answer.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one request (`GET /path HTTP/1.1` etc. plus headers) and reads the whole answer. */
export function rawRequest(baseUrl: string, requestLine: string, headers: string[] = [], body = ''): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) {
        reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const result: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        result[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let payload = text.slice(split + 4);
      if (result['transfer-encoding'] === 'chunked') payload = dechunk(payload);
      resolve({ status: Number(statusLine.split(' ')[1]), headers: result, body: payload });
    });
    const lengthHeader = body.length > 0 ? [`Content-Length: ${Buffer.byteLength(body)}`] : [];
    socket.write([requestLine, `Host: ${url.host}`, 'Connection: close', ...lengthHeader, ...headers, '', body].join('\r\n'), 'latin1');
  });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}
