/**
 * Reading action inputs. Every reader names the input in its error, so a user sees
 * `Input "max-step" must be an integer from 0 to 100, got "ten".` and knows what to fix.
 * Inputs are read from the environment the way the runner passes them (INPUT_<NAME>, spaces
 * to underscores, upper-cased), through @actions/core.
 */
import * as core from '@actions/core';
import { parseDuration } from '../../common/duration.js';
import { ConfigurationError } from '../../common/errors.js';

export function getOptionalInput(name: string): string | undefined {
  const value = core.getInput(name).trim();
  return value === '' ? undefined : value;
}

export function getRequiredInput(name: string): string {
  const value = getOptionalInput(name);
  if (value === undefined) throw new ConfigurationError(`Input "${name}" is required.`);
  return value;
}

/** YAML 1.2 core-schema booleans only; anything else is an error rather than a silent false. */
export function getBooleanInput(name: string, defaultValue: boolean): boolean {
  const value = getOptionalInput(name);
  if (value === undefined) return defaultValue;
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new ConfigurationError(`Input "${name}" must be true or false, got "${value}".`);
}

export function getIntegerInput(
  name: string,
  { min, max }: { min: number; max: number },
): number | undefined {
  const value = getOptionalInput(name);
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigurationError(
      `Input "${name}" must be an integer from ${min} to ${max}, got "${value}".`,
    );
  }
  return Number(value);
}

/** Non-empty lines with surrounding blanks and `#` comments removed. */
export function getMultilineInput(name: string): string[] {
  return core
    .getInput(name)
    .split(/\r?\n/)
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line !== '');
}

/** A duration such as `30s`, `1m30s` or `500ms`, in milliseconds; undefined when not given. */
export function getDurationInput(name: string): number | undefined {
  const value = getOptionalInput(name);
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new ConfigurationError(
      `Input "${name}" must be a duration such as 0s, 30s, 1m or 1m30s, got "${value}".`,
    );
  }
  return ms;
}
