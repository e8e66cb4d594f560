import { describe, expect, it } from 'vitest';
import { pathFilter } from '../../src/common/glob.js';

describe('the files filter', () => {
  it.each([
    ['rollouts/*.yaml', 'rollouts/web.yaml', true],
    ['rollouts/*.yaml', 'rollouts/prod/web.yaml', false],
    ['rollouts/*.yaml', 'rollouts/web.yml', false],
    ['rollouts/**/*.yaml', 'rollouts/web.yaml', true],
    ['rollouts/**/*.yaml', 'rollouts/prod/eu/web.yaml', true],
    ['rollouts/*.{yaml,yml}', 'rollouts/web.yml', true],
    ['rollouts/we?.yaml', 'rollouts/web.yaml', true],
    ['./rollouts/*.yaml', 'rollouts/web.yaml', true],
    ['rollouts/**', 'rollouts/a/b', true],
    ['rollouts/*.yaml', 'rollouts/web+yaml', false],
  ])('%s matches %s: %s', (glob, path, expected) => {
    expect(pathFilter([glob], 'files').matches(path)).toBe(expected);
  });

  it('excludes with a later ! line', () => {
    const f = pathFilter(['rollouts/*.yaml', '!rollouts/test-*.yaml'], 'files');
    expect(f.matches('rollouts/web.yaml')).toBe(true);
    expect(f.matches('rollouts/test-web.yaml')).toBe(false);
  });

  it('names the input on a broken glob', () => {
    expect(() => pathFilter(['rollouts/*.{yaml'], 'files')).toThrow(
      'Input "files": "rollouts/*.{yaml" has an unclosed "{".',
    );
  });
});
