/** JobScheduler with hand-driven fake hosts: champion-first dispatch, one job per host, cancel, crashed hosts, close. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEdgewatchError, EdgewatchError } from '../../src/errors.js';
import type { TimedPrediction } from '../../src/infer/model-runner.js';
import { JobScheduler, type JobHost, type ModelJob } from '../../src/infer/scheduler.js';
import type { DecodedInput } from '../../src/types.js';

const original = { width: 1, height: 1 };
const input = (tag: string): DecodedInput => ({ spec: { tag } as never, pixels: new Uint8Array(1) });
const prediction = { prediction: {} as never, latencySeconds: 0.001 } satisfies TimedPrediction;

/** A host whose predictions end when the test says so; `log` records every start as `<name>:<tag>`. */
class FakeHost implements JobHost {
  readonly running: { tag: string; model: number; resolve: (p: TimedPrediction) => void; reject: (err: Error) => void }[] = [];
  readonly crashed: Promise<unknown>;
  #crash!: () => void;

  constructor(
    readonly name: string,
    readonly log: string[],
  ) {
    this.crashed = new Promise<void>((resolve) => (this.#crash = resolve));
  }

  predict(inp: DecodedInput, _original: unknown, model: number): Promise<TimedPrediction> {
    const tag = (inp.spec as unknown as { tag: string }).tag;
    this.log.push(`${this.name}:${tag}`);
    return new Promise((resolve, reject) => this.running.push({ tag, model, resolve, reject }));
  }

  /** Ends the oldest running prediction and lets the scheduler react. */
  async finish(): Promise<void> {
    this.running.shift()?.resolve(prediction);
    await settle();
  }

  async crash(): Promise<void> {
    this.#crash();
    for (const r of this.running.splice(0)) r.reject(new EdgewatchError('EW_WORKER_CRASHED', `${this.name} crashed`));
    await settle();
  }
}

/** Lets every pending promise callback run (the scheduler reacts in microtasks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const both = new Map([[0, 0], [1, 1]]);

test('one host holding both models: a champion job submitted after shadow jobs starts before them', async () => {
  const log: string[] = [];
  const scheduler = new JobScheduler();
  const host = new FakeHost('h', log);
  scheduler.addHost(host, both);
  const shadows = ['s0', 's1', 's2'].map((tag) => scheduler.submit(1, input(tag), original));
  const champion = scheduler.submit(0, input('c'), original);
  assert.deepEqual(log, ['h:s0'], 'one job per host at a time');
  assert.equal(scheduler.queued(1), 2);
  assert.equal(scheduler.queued(0), 1);
  for (let i = 0; i < 4; i++) await host.finish();
  assert.deepEqual(log, ['h:s0', 'h:c', 'h:s1', 'h:s2']);
  assert.ok((champion.startedAt as number) < (shadows[1]!.startedAt as number));
  for (const job of [...shadows, champion]) assert.deepEqual(await job.result, prediction);
});

test('dedicated hosts: champion jobs go only to champion hosts, shadow jobs only to shadow hosts, with the host own model index', async () => {
  const log: string[] = [];
  const scheduler = new JobScheduler();
  const champion = new FakeHost('C', log);
  const shadow = new FakeHost('S', log);
  scheduler.addHost(champion, new Map([[0, 0]]));
  scheduler.addHost(shadow, new Map([[1, 0]]));
  scheduler.submit(1, input('s0'), original);
  scheduler.submit(1, input('s1'), original);
  scheduler.submit(0, input('c0'), original);
  scheduler.submit(0, input('c1'), original);
  assert.deepEqual(log, ['S:s0', 'C:c0']);
  assert.equal(shadow.running[0]!.model, 0, 'the shadow host runs its model 0 for pool model 1');
  await champion.finish();
  assert.deepEqual(log, ['S:s0', 'C:c0', 'C:c1'], 'the idle champion host does not take shadow work');
  await shadow.finish();
  assert.deepEqual(log, ['S:s0', 'C:c0', 'C:c1', 'S:s1']);
});

test('cancel: a queued job rejects with EW_INFER_CANCELLED and never runs; a started job is not cancelled and completes', async () => {
  const log: string[] = [];
  const scheduler = new JobScheduler();
  const host = new FakeHost('h', log);
  scheduler.addHost(host, both);
  const started = scheduler.submit(1, input('s0'), original);
  const queued = scheduler.submit(1, input('s1'), original);
  assert.equal(queued.cancel(), true);
  assert.equal(queued.cancel(), false, 'only once');
  assert.equal(scheduler.queued(1), 0);
  await assert.rejects(queued.result, (err: unknown) => isEdgewatchError(err, 'EW_INFER_CANCELLED'));
  assert.equal(started.cancel(), false);
  await host.finish();
  assert.deepEqual(await started.result, prediction);
  assert.deepEqual(log, ['h:s0']);
  assert.equal(queued.startedAt, undefined);
});

test('a crashed host takes no more jobs: its queued jobs go to another host of the model, or fail with EW_WORKER_CRASHED when none is left', async () => {
  const log: string[] = [];
  const scheduler = new JobScheduler();
  const a = new FakeHost('A', log);
  const b = new FakeHost('B', log);
  const shadowHost = new FakeHost('S', log);
  scheduler.addHost(a, new Map([[0, 0]]));
  scheduler.addHost(b, new Map([[0, 0]]));
  scheduler.addHost(shadowHost, new Map([[1, 0]]));
  const jobs: ModelJob[] = ['c0', 'c1', 'c2', 'c3'].map((tag) => scheduler.submit(0, input(tag), original));
  const shadowJob = scheduler.submit(1, input('s0'), original);
  assert.deepEqual(log, ['A:c0', 'B:c1', 'S:s0']);
  const crashed = assert.rejects(jobs[0]!.result, (err: unknown) => isEdgewatchError(err, 'EW_WORKER_CRASHED'));
  await a.crash();
  await crashed;
  await b.finish();
  await b.finish();
  await b.finish();
  assert.deepEqual(log, ['A:c0', 'B:c1', 'S:s0', 'B:c2', 'B:c3'], 'A never gets a job again');
  const running = scheduler.submit(0, input('c4'), original);
  const queuedBehind = scheduler.submit(0, input('c5'), original);
  const failures = [
    assert.rejects(running.result, (err: unknown) => isEdgewatchError(err, 'EW_WORKER_CRASHED')),
    assert.rejects(queuedBehind.result, (err: unknown) => isEdgewatchError(err, 'EW_WORKER_CRASHED') && /no model host is left/.test(err.message), 'no champion host left'),
  ];
  await b.crash();
  await Promise.all(failures);
  await assert.rejects(scheduler.submit(0, input('c6'), original).result, (err: unknown) => isEdgewatchError(err, 'EW_WORKER_CRASHED'));
  await shadowHost.finish();
  assert.deepEqual(await shadowJob.result, prediction, 'the shadow host is unaffected');
});

test('exclusive() waits for running jobs and holds new ones back; close() fails queued jobs with EW_INFER_FAILED', async () => {
  const log: string[] = [];
  const scheduler = new JobScheduler();
  const host = new FakeHost('h', log);
  scheduler.addHost(host, both);
  scheduler.submit(0, input('c0'), original);
  let inside = false;
  const exclusive = scheduler.exclusive(async () => {
    inside = true;
    scheduler.submit(0, input('c1'), original);
    assert.deepEqual(log, ['h:c0'], 'nothing dispatched while exclusive');
  });
  await settle();
  assert.equal(inside, false, 'waits for the running job');
  await host.finish();
  await exclusive;
  assert.deepEqual(log, ['h:c0', 'h:c1'], 'dispatch resumes after');
  const queued = scheduler.submit(1, input('s0'), original);
  scheduler.close();
  scheduler.close();
  await assert.rejects(queued.result, (err: unknown) => isEdgewatchError(err, 'EW_INFER_FAILED'));
  await assert.rejects(scheduler.submit(0, input('c2'), original).result, (err: unknown) => isEdgewatchError(err, 'EW_INFER_FAILED'));
});

test('a pre-emptive host running a shadow job takes champion jobs at once, one at a time; the next shadow job waits for the host to be idle', async () => {
  const log: string[] = [];
  const scheduler = new JobScheduler(2);
  const host = Object.assign(new FakeHost('h', log), { preemptive: true });
  scheduler.addHost(host, both);
  const s0 = scheduler.submit(1, input('s0'), original);
  scheduler.submit(1, input('s1'), original);
  const c0 = scheduler.submit(0, input('c0'), original);
  const c1 = scheduler.submit(0, input('c1'), original);
  assert.deepEqual(log, ['h:s0', 'h:c0'], 'c0 started inside s0; c1 waits for c0');
  assert.ok(c0.startedAt !== undefined && c1.startedAt === undefined);
  host.running.splice(1, 1)[0]!.resolve(prediction);
  await settle();
  assert.deepEqual(log, ['h:s0', 'h:c0', 'h:c1'], 'c1 starts when c0 ends, s0 still running');
  host.running.splice(1, 1)[0]!.resolve(prediction);
  await settle();
  assert.deepEqual(log, ['h:s0', 'h:c0', 'h:c1'], 's1 does not start beside s0');
  await host.finish();
  assert.deepEqual(log, ['h:s0', 'h:c0', 'h:c1', 'h:s1']);
  await s0.result;
});

test('champion jobs go to an idle host holding no shadow first, leaving the host that holds the shadow free for it', async () => {
  const log: string[] = [];
  const scheduler = new JobScheduler(2);
  const shared = Object.assign(new FakeHost('all', log), { preemptive: true });
  const championOnly = Object.assign(new FakeHost('champion', log), { preemptive: true });
  scheduler.addHost(shared, both);
  scheduler.addHost(championOnly, new Map([[0, 0]]));
  scheduler.submit(0, input('c0'), original);
  scheduler.submit(1, input('s0'), original);
  assert.deepEqual(log, ['champion:c0', 'all:s0'], 'the champion and the shadow of one image run side by side');
  scheduler.submit(0, input('c1'), original);
  assert.deepEqual(log, ['champion:c0', 'all:s0', 'all:c1'], 'with no idle host, a champion job interrupts the shadow');
});

test('shadowMayStart holds every shadow start back until wake(); champion jobs are not held', async () => {
  const log: string[] = [];
  let may = false;
  const scheduler = new JobScheduler(2, undefined, () => may);
  const host = new FakeHost('h', log);
  scheduler.addHost(host, both);
  scheduler.submit(1, input('s0'), original);
  assert.deepEqual(log, []);
  scheduler.submit(0, input('c0'), original);
  assert.deepEqual(log, ['h:c0']);
  await host.finish();
  assert.deepEqual(log, ['h:c0'], 'still held after the champion job ends');
  may = true;
  scheduler.wake();
  assert.deepEqual(log, ['h:c0', 'h:s0']);
});
