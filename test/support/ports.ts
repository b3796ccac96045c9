/** @module Free loopback ports for tests and benches that start processes on known ports. */
import { createServer, type Server } from 'node:net';

/**
 * Distinct free loopback ports: all held open at once (so none is handed out twice), then released.
 *
 * @example
 * const [port, statusPort] = await freePorts(2);
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<Server>((done, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => done(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}
