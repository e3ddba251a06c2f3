// A throwaway Temporal dev server for tests: headless, free ports, SQLite file in a temp folder.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDevServer } from '../../temporal/dev-server';

export interface TestTemporal {
  /** host:port of the gRPC frontend. */
  address: string;
  /** Stops the server and deletes its temp folder. */
  stop(): Promise<void>;
}

export async function startTestTemporal(options: { log?: NodeJS.WritableStream } = {}): Promise<TestTemporal> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasticity-temporal-'));
  try {
    const server = await startDevServer({ ui: false, stateDir, log: options.log });
    return {
      address: server.address,
      stop: async () => {
        await server.stop();
        fs.rmSync(stateDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
}
