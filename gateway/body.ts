/**
 * @module Buffers a request body with a hard limit, checked against `Content-Length` before
 * reading and against the bytes actually read (chunked bodies) while reading.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../policies/index.js';

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new GatewayError('request.malformed_body', 'The request body could not be read.', { cause: error }));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number): GatewayError {
  // The rest of the body is never read: close the connection after answering.
  return new GatewayError('request.too_large', `The request body exceeds ${limit} bytes.`, { headers: { connection: 'close' } });
}
