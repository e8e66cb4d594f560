/**
 * Which changed paths are rollout files: the `files` input's globs against repository-relative
 * paths, with the syntax workflow `paths:` filters use: `*` (within one path segment), `**`
 * (any number of segments), `?` (one character) and `{a,b}` (either). A line starting with
 * `!` excludes what the lines above it included.
 */
import { ConfigurationError } from './errors.js';

export interface PathFilter {
  patterns: string[];
  matches(path: string): boolean;
}

export function pathFilter(patterns: readonly string[], inputName: string): PathFilter {
  if (patterns.length === 0) {
    throw new ConfigurationError(
      `Input "${inputName}" is empty; give a glob such as rollouts/*.yaml.`,
    );
  }
  const compiled = patterns.map((p) => {
    const negated = p.startsWith('!');
    return { negated, regex: globToRegExp(negated ? p.slice(1) : p, inputName) };
  });
  return {
    patterns: [...patterns],
    matches(path) {
      let included = false;
      for (const { negated, regex } of compiled) {
        if (regex.test(path)) included = !negated;
      }
      return included;
    },
  };
}

export function globToRegExp(glob: string, inputName: string): RegExp {
  const pattern = glob.replace(/^\.\//, '');
  let out = '';
  let braces = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // `**/` matches zero or more whole segments; a trailing `**` matches everything below.
        const slash = pattern[i + 2] === '/';
        out += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) {
      out += '|';
    } else {
      out += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
    }
  }
  if (braces > 0) {
    throw new ConfigurationError(`Input "${inputName}": "${glob}" has an unclosed "{".`);
  }
  return new RegExp(`^${out}$`);
}
