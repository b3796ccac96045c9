/**
 * @module A private `redis-server` child process for tests that stop Redis mid-test (fail
 * modes): the shared Redis on :6379 serves other test files in parallel and is never stopped.
 * No persistence, loopback only, a free port. When the binary is missing the test says so
 * loudly and skips; under `CI=true` it fails, as `requireRedis` does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { freePorts } from './ports.js';

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGKILL: no goodbye to clients, as in a crash) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was persisted). */
  start(): Promise<void>;
  /** Stops it if it runs. */
  close(): Promise<void>;
}

function launch(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server on :${port} did not become ready:\n${output}`));
    }, 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server on :${port} exited (${String(code)}):\n${output}`));
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(child);
      }
    });
  });
}

/**
 * Starts a private redis-server, or skips (locally) / fails (CI) when the binary is missing.
 *
 * @example
 * const redis = await startPrivateRedis(t);
 * if (redis === undefined) return;
 * t.after(() => redis.close());
 * await redis.stop(); // … the gateway's fail modes …
 * await redis.start();
 */
export async function startPrivateRedis(t: TestContext): Promise<PrivateRedis | undefined> {
  const [port] = await freePorts(1);
  let child: ChildProcess | undefined;
  try {
    child = await launch(port);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const message = 'redis-server is not installed; install it (apt-get install redis-server) to run this test';
    if (process.env.CI === 'true') throw new Error(`${message}. CI=true: Redis tests must run.`);
    process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
    t.skip(message);
    return undefined;
  }
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async start() {
      if (child !== undefined) throw new Error('redis-server already runs');
      child = await launch(port);
    },
    close: stop,
  };
}
