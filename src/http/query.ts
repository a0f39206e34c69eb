import { MomError } from '../core/errors';

/** An integer query value within [min, max]; anything else is a 400 naming the parameter. */
export function intParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  if (!/^-?\d+$/.test(raw)) {
    throw new MomError('bad_request', `query parameter ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new MomError('bad_request', `query parameter ${name} must be an integer from ${min} to ${max}, got ${raw}`);
  }
  return value;
}

export function enumParam<T extends string>(params: URLSearchParams, name: string, allowed: readonly T[], fallback: T): T {
  const raw = params.get(name);
  if (raw === null) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new MomError('bad_request', `query parameter ${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
}

export function boolParam(params: URLSearchParams, name: string, fallback: boolean): boolean {
  const raw = params.get(name);
  if (raw === null) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new MomError('bad_request', `query parameter ${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/** A comma-separated list of integers within [min, max] (`1,4,7`), or null when absent; anything else is a 400. */
export function intListParam(params: URLSearchParams, name: string, min: number, max: number): number[] | null {
  const raw = params.get(name);
  if (raw === null) return null;
  const values = raw.split(',');
  const list: number[] = [];
  for (const value of values) {
    const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new MomError('bad_request', `query parameter ${name} must be a comma-separated list of integers from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    if (!list.includes(number)) list.push(number);
  }
  return list;
}
