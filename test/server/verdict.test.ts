/** The verdict's statistics against known values: Wilson, exact McNemar, Newcombe's paired interval, and a scripted champion/shadow example. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mcnemarExactP, newcombePairedDifference, wilson } from '../../src/server/verdict/interval-math.js';
import { countReviews, isRight, labelName } from '../../src/server/verdict/verdict-counts.js';
import { computeVerdict, discordantNeeded, type VerdictCounts } from '../../src/server/verdict/verdict.js';

const close = (actual: number | null, expected: number, tolerance = 1e-4) => assert.ok(actual !== null && Math.abs(actual - expected) <= tolerance, `${actual} ≉ ${expected}`);

test('Wilson score interval: textbook values', () => {
  const half = wilson(0.5, 10);
  close(half.low, 0.236593);
  close(half.high, 0.763407);
  const none = wilson(0, 10);
  assert.equal(none.low, 0);
  close(none.high, 0.277533);
  assert.deepEqual(wilson(0.3, 0), { low: 0, high: 1 }, 'no review: nothing known');
});

test('exact McNemar p-value: binomial tail, two-sided', () => {
  close(mcnemarExactP(1, 9), 22 / 1024, 1e-12); // 2 · (1 + 10) / 2^10
  close(mcnemarExactP(9, 1), 22 / 1024, 1e-12);
  close(mcnemarExactP(3, 7), 0.34375, 1e-12);
  assert.equal(mcnemarExactP(0, 0), 1);
  assert.equal(mcnemarExactP(5, 5), 1);
  close(mcnemarExactP(20, 60), 8.580559867e-6, 1e-12);
  assert.ok(mcnemarExactP(0, 6) < 0.05 && mcnemarExactP(0, 5) > 0.05, 'six one-sided discordant pairs are the fewest that settle anything');
  close(mcnemarExactP(480, 520), 0.2178, 5e-4); // large m uses Stirling's series: stays accurate
});

test("Newcombe's paired interval: close to Wald on a large table (Agresti's approval ratings), inside [-1, 1] at the edges", () => {
  // 794 approve both times, 150 approve then not, 86 not then approve, 570 neither (n = 1600): p1 − p2 = 0.04, Wald 0.021–0.059.
  const r = newcombePairedDifference({ both: 794, onlyFirst: 150, onlySecond: 86, neither: 570 });
  close(r.estimate, 0.04, 1e-12);
  close(r.low, 0.0213, 1e-3);
  close(r.high, 0.0587, 1e-3);
  const edge = newcombePairedDifference({ both: 0, onlyFirst: 10, onlySecond: 0, neither: 0 });
  assert.equal(edge.estimate, 1);
  assert.ok(edge.low > 0.5 && edge.high === 1);
  const symmetric = newcombePairedDifference({ both: 3, onlyFirst: 4, onlySecond: 4, neither: 9 });
  close(symmetric.low, -symmetric.high, 1e-12);
});

test('scripted example: the shadow is right 5 points more often; reviews drawn disagreements-first are re-weighted to the truth', () => {
  // Paired traffic of 2,000 images: champion 85 % right, shadow 90 % right.
  //  agreements 1,700 (1,650 both right, 50 both wrong); disagreements 300 (150 only shadow right, 50 only champion right, 100 neither).
  // Reviewed: 120 of the 300 disagreements (60 only shadow, 20 only champion, 40 neither) and 100 of the 1,700 agreements (97 right).
  const counts: VerdictCounts = { agreements: 1700, disagreements: 300, reviewedAgreements: 100, agreementsRight: 97, bothRight: 0, onlyChampionRight: 20, onlyShadowRight: 60, neitherRight: 40 };
  const v = computeVerdict(counts);
  // Difference = 300/2000 · (60 − 20)/120 = 5.0 points; Newcombe within the disagreements (0.193–0.457) × 0.15.
  close(v.difference?.points ?? null, 5.0, 1e-9);
  close(v.difference?.low ?? null, 2.8947, 1e-3);
  close(v.difference?.high ?? null, 6.8567, 1e-3);
  close(v.paired.pValue, 8.58056e-6, 1e-10);
  assert.equal(v.settled, true);
  assert.equal(v.better, 'shadow');
  // Weighted accuracies: 0.85 · 0.97 + 0.15 · 20/120 = 0.8495 and 0.85 · 0.97 + 0.15 · 60/120 = 0.8995 (the truth: 0.85 and 0.90).
  // Unweighted they would be 117/220 = 53 % and 157/220 = 71 %: that is the bias of reviewing disagreements first.
  close(v.champion.accuracy, 0.8495, 1e-9);
  close(v.shadow.accuracy, 0.8995, 1e-9);
  close(v.champion.effectiveReviews, 134.9073, 1e-3); // Kish: 2000² / (1700²/100 + 300²/120)
  close(v.champion.low, 0.779546, 1e-5);
  close(v.champion.high, 0.900101, 1e-5);
  close(v.shadow.low, 0.837203, 1e-5);
  close(v.shadow.high, 0.939676, 1e-5);
  assert.equal(v.sentence, 'shadow better by 5.0 points (2.9–6.9), p < 0.001, from 120 reviewed disagreements');
});

test('not settled yet: how many more reviews of disagreements, champion ahead, and the edge cases', () => {
  // 20 reviewed disagreements: shadow right alone 7 times, champion 3 (p = 0.34). At that 70 % share, 25 discordant reviews settle it:
  // 15 more discordant, i.e. 15 · 20/10 = 30 more reviews of disagreements.
  assert.equal(discordantNeeded(7, 10), 25);
  // A near-even split (50.1 %): the normal test beyond 2,000 pairs, about 960,000 discordant reviews; 50.05 % is past the limit.
  const far = discordantNeeded(5010, 10_000) as number;
  assert.ok(far > 900_000 && far < 1_000_000, String(far));
  assert.equal(discordantNeeded(5005, 10_000), null, 'beyond the search limit: no promise');
  // Exact test at 60 %: rounding makes p zigzag (61 of 101: 0.046, 61 of 102: 0.059); the search lands on a settling m near the first.
  const near = discordantNeeded(60, 100) as number;
  assert.ok(near >= 101 && near <= 111, String(near));
  const open = computeVerdict({ agreements: 900, disagreements: 100, reviewedAgreements: 0, agreementsRight: 0, bothRight: 0, onlyChampionRight: 3, onlyShadowRight: 7, neitherRight: 10 });
  assert.equal(open.settled, false);
  assert.equal(open.moreReviewsNeeded, 30);
  assert.equal(open.champion.accuracy, null, 'no agreement reviewed yet: per-model accuracy unknown, the difference is not');
  close(open.difference?.points ?? null, 2.0, 1e-9); // 0.1 · (7 − 3)/20
  assert.equal(open.sentence, 'not settled: about 30 more reviews of disagreements; so far shadow better by 2.0 points (-1.1–4.6), p = 0.34, from 20 reviewed disagreements');

  const champion = computeVerdict({ agreements: 50, disagreements: 50, reviewedAgreements: 10, agreementsRight: 10, bothRight: 0, onlyChampionRight: 12, onlyShadowRight: 1, neitherRight: 2 });
  assert.equal(champion.better, 'champion');
  assert.match(champion.sentence, /^champion better by \d+\.\d points \(\d+\.\d–\d+\.\d\), p = 0\.003, from 15 reviewed disagreements$/);

  const fresh = computeVerdict({ agreements: 10, disagreements: 40, reviewedAgreements: 0, agreementsRight: 0, bothRight: 0, onlyChampionRight: 0, onlyShadowRight: 0, neitherRight: 0 });
  assert.equal(fresh.moreReviewsNeeded, 6);
  assert.equal(fresh.sentence, 'not settled: about 6 more reviews of disagreements');
  const tie = computeVerdict({ agreements: 10, disagreements: 40, reviewedAgreements: 0, agreementsRight: 0, bothRight: 0, onlyChampionRight: 4, onlyShadowRight: 4, neitherRight: 0 });
  assert.equal(tie.moreReviewsNeeded, null);
  assert.match(tie.sentence, /^not settled: no difference so far/);
  const short = computeVerdict({ agreements: 10, disagreements: 8, reviewedAgreements: 0, agreementsRight: 0, bothRight: 0, onlyChampionRight: 1, onlyShadowRight: 3, neitherRight: 0 });
  assert.match(short.sentence, /only 4 unreviewed disagreements so far: wait for more traffic/);
  assert.equal(computeVerdict({ agreements: 0, disagreements: 0, reviewedAgreements: 0, agreementsRight: 0, bothRight: 0, onlyChampionRight: 0, onlyShadowRight: 0, neitherRight: 0 }).difference, null);
  const same = computeVerdict({ agreements: 30, disagreements: 0, reviewedAgreements: 0, agreementsRight: 0, bothRight: 0, onlyChampionRight: 0, onlyShadowRight: 0, neitherRight: 0 });
  assert.deepEqual(same.difference, { points: 0, low: 0, high: 0 });
});

test('reviews to counts: labels by name, "neither" (no label) is right only for an empty prediction, 0- or 1-based label maps', () => {
  assert.equal(labelName(1, ['cat', 'dog'], []), 'dog');
  assert.equal(labelName(2, [], [{ '1': 'cat', '2': 'dog' }]), 'dog', 'a 1-based map is looked up as given');
  assert.equal(labelName(7, [], [null]), 'class 7');
  assert.equal(labelName(null, ['cat'], []), null);
  assert.equal(isRight('cat', ['cat']), true);
  assert.equal(isRight('cat', []), false);
  assert.equal(isRight(null, []), true);
  const c = countReviews({ agreements: 5, disagreements: 5 }, [
    { champion: 'cat', shadow: 'cat', truth: ['cat'] },
    { champion: 'cat', shadow: 'dog', truth: ['dog'] },
    { champion: 'cat', shadow: 'dog', truth: ['cat'] },
    { champion: 'cat', shadow: 'dog', truth: [] },
    { champion: 'cat', shadow: 'dog', truth: ['cat', 'dog'] },
  ]);
  assert.deepEqual(c, { agreements: 5, disagreements: 5, reviewedAgreements: 1, agreementsRight: 1, bothRight: 1, onlyChampionRight: 1, onlyShadowRight: 1, neitherRight: 1 });
});
