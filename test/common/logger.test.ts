import { describe, expect, it } from 'vitest';
import { MemoryLogger, flatGroups } from '../../src/common/logger.js';

describe('log groups', () => {
  it('never nests: a group inside a group is a heading line in the outer fold', async () => {
    const out: string[] = [];
    const group = flatGroups({
      startGroup: (n) => out.push(`::group::${n}`),
      endGroup: () => out.push('::endgroup::'),
      heading: (n) => out.push(`-- ${n}`),
    });
    await group('Applying', async () => {
      out.push('a');
      await group('Shifting', async () => out.push('b'));
      out.push('c');
    });
    await group('Verifying', async () => out.push('d'));
    expect(out).toEqual([
      '::group::Applying',
      'a',
      '-- Shifting',
      'b',
      'c',
      '::endgroup::',
      '::group::Verifying',
      'd',
      '::endgroup::',
    ]);
  });

  it('closes the fold when the body throws, so the next group opens a fold again', async () => {
    const logger = new MemoryLogger();
    await expect(
      logger.group('Shifting', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await logger.group('Restoring', async () => logger.info('x'));
    expect(logger.lines).toEqual([
      '>> Shifting',
      '<< Shifting',
      '>> Restoring',
      'x',
      '<< Restoring',
    ]);
  });
});
