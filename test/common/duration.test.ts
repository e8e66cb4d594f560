import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/rollout-file/index.js';
import { closestMatch } from '../../src/yaml/suggest.js';

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1_500],
    ['0', 0],
    ['0s', 0],
    [' 45s ', 45_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '30', '30 s', '30S', '-5s', '5d', 's', '1m 30s', 'soon', '1.s'])(
    '"%s" does not parse',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [800, '800ms'],
    [30_000, '30s'],
    [90_000, '1m30s'],
    [3_723_004, '1h2m3s4ms'],
  ])('%d ms is %s, which parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('closestMatch', () => {
  it.each([
    ['weigths', ['weights', 'steps'], 'weights'],
    ['targetgroup', ['eks', 'targetGroup'], 'targetGroup'],
    ['gren', ['blue', 'green'], 'green'],
    ['foo', ['eks', 'targetGroup'], undefined],
    ['colour', ['warmup', 'interval', 'duration'], undefined],
  ])('%s among %j suggests %s', (word, candidates, expected) => {
    expect(closestMatch(word, candidates)).toBe(expected);
  });
});
