/** --sample: the policy text, how the rules combine into an inclusion probability p, and the cap per minute keeping 1/p weights unbiased. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSamplePolicy, samplePolicy, SEND_ALL } from '../../src/sample/policy.js';
import { capTarget, Sampler, topClass } from '../../src/sample/sampler.js';
import { createRng } from '../../src/demo/shapes.js';
import type { RawPrediction } from '../../src/types.js';
import { buildMonitorFields } from '../../src/monitor/monitor-body.js';
import { makeJpeg, sampleInput } from '../monitor/sample-body.js';

const cls = (id: number, score = 0.9): RawPrediction => ({ detection_classes: [id], detection_texts: null, detection_scores: [score] });
const LABELS = ['circle', 'square', 'triangle'];

test('policy text: terms in any order; each bad term named', () => {
  const p = samplePolicy('class:square=1, rate=0.25,disagreement,class:2=0,cap=600');
  assert.equal(p.rate, 0.25);
  assert.equal(p.disagreement, true);
  assert.deepEqual([...p.classes], [['square', 1], ['2', 0]]);
  assert.equal(p.capPerMinute, 600);
  assert.equal(samplePolicy('disagreement').rate, 0, 'without rate=, only what the other rules pick');
  for (const [text, problem] of [
    ['', /is empty/],
    ['rate=1.01', /rate=1\.01: the rate must be a probability/],
    ['rate=-1', /probability/],
    ['rate=abc', /probability/],
    ['class:cat=2', /class rate must be a probability/],
    ['cap=0', /at least 1/],
    ['cap=1.5', /unknown term "cap=1\.5"/],
    ['random', /unknown term "random"/],
  ] as const) {
    const parsed = parseSamplePolicy(text);
    assert.ok('problem' in parsed, text);
    assert.match(parsed.problem, problem, text);
  }
  assert.throws(() => samplePolicy('nope'), { code: 'EW_CONFIG_INVALID' });
});

test('top class: a classification\'s first class, a detection\'s highest-scoring box, -1 when nothing was detected', () => {
  assert.equal(topClass(cls(2)), 2);
  assert.equal(topClass({ detection_classes: [0, 2, 1], detection_texts: null, detection_scores: [0.3, 0.8, 0.5], detection_boxes: [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]] } as RawPrediction), 2);
  assert.equal(topClass({ detection_classes: [], detection_texts: null, detection_scores: [] }), -1);
});

test('how rules combine: class rate over rate, disagreement over both, a missing shadow cannot disagree', () => {
  let u = 0.5;
  const sampler = new Sampler(samplePolicy('rate=0.25,class:square=1,class:2=0.1,disagreement'), () => u);
  assert.deepEqual(sampler.decide(cls(0), cls(0), LABELS), { send: false, probability: 0.25, policy: 'rate', reason: 'sampled' });
  u = 0.2;
  assert.deepEqual(sampler.decide(cls(0), cls(0), LABELS), { send: true, probability: 0.25, policy: 'rate' });
  assert.deepEqual(sampler.decide(cls(1), cls(1), LABELS), { send: true, probability: 1, policy: 'class:square' }, 'by label');
  assert.deepEqual(sampler.decide(cls(2), cls(2), LABELS), { send: false, probability: 0.1, policy: 'class:triangle', reason: 'sampled' }, 'by class id');
  u = 0.999;
  assert.deepEqual(sampler.decide(cls(0), cls(1), LABELS), { send: true, probability: 1, policy: 'disagreement' });
  assert.deepEqual(sampler.decide(cls(2), cls(0), LABELS), { send: true, probability: 1, policy: 'disagreement' }, 'over a class rate');
  assert.deepEqual(sampler.decide(cls(0), undefined, LABELS), { send: false, probability: 0.25, policy: 'rate', reason: 'sampled' }, 'no shadow (late): the rate');
  const all = new Sampler(SEND_ALL, () => 0.999);
  assert.equal(all.sendsAll, true);
  assert.deepEqual(all.decide(cls(0), cls(1)), { send: true, probability: 1, policy: 'all' });
});

test('cap: p scales with the previous minute\'s demand; the hard guard holds a surge within the minute; an idle minute resets', () => {
  let nowMs = 0;
  let u = 0;
  const sampler = new Sampler(samplePolicy('rate=1,cap=10'), () => u, () => nowMs);
  const first = Array.from({ length: 100 }, () => sampler.decide(cls(0), undefined));
  assert.equal(first.filter((d) => d.send).length, 10, 'a surge in the first minute: the guard stops it at the cap');
  assert.deepEqual(first[50], { send: false, probability: 1, policy: 'rate', reason: 'cap' });
  nowMs = 60_000;
  u = 0.04;
  const second = sampler.decide(cls(0), undefined);
  // Demand was 100 for a cap of 10, aimed at max(5, 10 − 3√10) = 5 expected sends: q = 0.05.
  assert.equal(capTarget(10), 5);
  assert.equal(capTarget(400), 340);
  assert.deepEqual(second, { send: true, probability: 0.05, policy: 'rate+cap' });
  u = 0.06;
  assert.deepEqual(sampler.decide(cls(0), undefined), { send: false, probability: 0.05, policy: 'rate+cap', reason: 'sampled' });
  nowMs = 3 * 60_000;
  assert.deepEqual(sampler.decide(cls(0), undefined), { send: true, probability: 1, policy: 'rate' }, 'no image in minute 2: no demand carried over');
});

test('1/p weights estimate the true totals under a cap: within 4 standard deviations over 10 seeded runs, the guard almost never acting', () => {
  const truth = [0, 0];
  const estimate = [0, 0];
  /** Variance of the Horvitz–Thompson estimate, estimated from the sent images: Σ (1 − p) / p². */
  const variance = [0, 0];
  let guarded = 0;
  let sentPerMinuteMax = 0;
  for (let seed = 1; seed <= 10; seed += 1) {
    const random = createRng(seed); // seeded: the simulation is the same on every run
    // 10 minutes of 2,000 images a minute, a third of them class 1 kept at rate 1, the rest at 0.5, capped at 300 a minute.
    let nowMs = 0;
    const sampler = new Sampler(samplePolicy('rate=0.5,class:1=1,cap=300'), random, () => nowMs);
    for (let minute = 0; minute < 10; minute += 1) {
      let sent = 0;
      for (let i = 0; i < 2000; i += 1) {
        nowMs = minute * 60_000 + i * 30;
        const c = random() < 1 / 3 ? 1 : 0;
        const d = sampler.decide(cls(c), undefined);
        if (d.send) sent += 1;
        if (minute === 0) continue; // the first minute has no demand to scale by (the guard alone holds it)
        truth[c] = (truth[c] as number) + 1;
        if (!d.send && d.reason === 'cap') guarded += 1;
        if (d.send) {
          estimate[c] = (estimate[c] as number) + 1 / d.probability;
          variance[c] = (variance[c] as number) + (1 - d.probability) / d.probability ** 2;
        }
      }
      sentPerMinuteMax = Math.max(sentPerMinuteMax, sent);
    }
  }
  assert.ok(sentPerMinuteMax <= 300, 'never more than the cap in a minute');
  assert.ok(guarded < 0.001 * (truth[0]! + truth[1]!), `the guard held back ${guarded} images`);
  for (const c of [0, 1]) {
    const sd = Math.sqrt(variance[c] as number);
    const off = Math.abs((estimate[c] as number) - (truth[c] as number));
    assert.ok(off < 4 * sd, `class ${c}: estimate ${Math.round(estimate[c] as number)} vs true ${truth[c]} (${(off / sd).toFixed(2)} sd)`);
  }
});

test('monitor body: custom_metadata.edgewatch.sampling is sent as given; a probability outside (0, 1] is EW_MONITOR_PROTOCOL', async () => {
  const bytes = await makeJpeg();
  const input = sampleInput(bytes, 'img-1');
  assert.equal(buildMonitorFields(input).custom_metadata.edgewatch.sampling, undefined, 'absent without --sample (p = 1)');
  const fields = buildMonitorFields({ ...input, edgewatch: { ...input.edgewatch, sampling: { probability: 0.25, policy: 'rate' } } });
  assert.deepEqual(fields.custom_metadata.edgewatch.sampling, { probability: 0.25, policy: 'rate' });
  for (const probability of [0, -0.1, 1.5, Number.NaN]) {
    assert.throws(() => buildMonitorFields({ ...input, edgewatch: { ...input.edgewatch, sampling: { probability, policy: 'rate' } } }), { code: 'EW_MONITOR_PROTOCOL' }, String(probability));
  }
  assert.throws(() => buildMonitorFields({ ...input, edgewatch: { ...input.edgewatch, sampling: { probability: 0.5, policy: '' } } }), { code: 'EW_MONITOR_PROTOCOL' });
});
