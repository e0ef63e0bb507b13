/** Tests of the retry timing helpers: full-jitter backoff and Retry-After parsing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs, parseRetryAfter } from '../../src/monitor/backoff.js';

test('backoffDelayMs: the ceiling doubles from baseMs and is capped at maxMs', () => {
  const top = () => 0.999999;
  assert.equal(backoffDelayMs(1, 500, 60_000, top), 499);
  assert.equal(backoffDelayMs(2, 500, 60_000, top), 999);
  assert.equal(backoffDelayMs(3, 500, 60_000, top), 1999);
  assert.equal(backoffDelayMs(10, 500, 60_000, top), 59_999);
  assert.equal(backoffDelayMs(10_000, 500, 60_000, top), 59_999);
  assert.equal(backoffDelayMs(Number.POSITIVE_INFINITY, 500, 60_000, top), 499);
});

test('backoffDelayMs: full jitter spans [0, ceiling) and attempts below 1 count as 1', () => {
  assert.equal(backoffDelayMs(5, 500, 60_000, () => 0), 0);
  assert.equal(backoffDelayMs(3, 500, 60_000, () => 0.5), 1000);
  assert.equal(backoffDelayMs(0, 500, 60_000, () => 0.5), 250);
  assert.equal(backoffDelayMs(-3, 500, 60_000, () => 0.5), 250);
  assert.equal(backoffDelayMs(2, 500, 60_000, () => Number.NaN), 0);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelayMs(4, 100, 1_000);
    assert.ok(d >= 0 && d < 800, String(d));
  }
});

test('parseRetryAfter: delay-seconds', () => {
  assert.equal(parseRetryAfter('7', 0), 7_000);
  assert.equal(parseRetryAfter(' 0 ', 0), 0);
  assert.equal(parseRetryAfter(['3', '9'], 0), 3_000);
});

test('parseRetryAfter: HTTP-date relative to now, never negative', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now), 0);
});

test('parseRetryAfter: absent or unparsable gives null', () => {
  for (const v of [undefined, null, '', 'soon', '-3', '1.5', '12abc']) assert.equal(parseRetryAfter(v as string | undefined, 0), null, String(v));
});
