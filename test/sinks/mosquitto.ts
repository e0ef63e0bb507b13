/** Debian's mosquitto broker for a test: generated config on a free 127.0.0.1 port, persistence in a temp folder, stopped in t.after (and restartable on the same port). */
import { spawn, type ChildProcess } from 'node:child_process';
import { chown, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import mqtt from 'mqtt';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface Broker {
  url: string;
  port: number;
  /** Stops the broker (SIGTERM: it saves its persistent sessions) and waits for its exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same persistence. */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts mosquitto in `dir` (which the broker's user must be able to write); stopped at the end of the test. */
export async function startBroker(t: TestContext, dir: string): Promise<Broker> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'log_dest stderr', 'log_type error', ''].join('\n'));
  // Started as root, mosquitto drops to its own user: the persistence folder must be its.
  if (process.getuid?.() === 0) await chown(dir, 102, 105).catch(() => undefined);
  let child: ChildProcess | undefined;
  let stderr = '';
  const start = async () => {
    child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    // Ready once a client can connect.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const probe = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { connectTimeout: 500, reconnectPeriod: 0 });
        await probe.endAsync();
        return;
      } catch {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`mosquitto did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  t.after(stop);
  return { url: `mqtt://127.0.0.1:${port}`, port, stop, start };
}
