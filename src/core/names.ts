import { MomError } from './errors';

/** DESIGN §8: case-sensitive, no leading dot (so never `.` or `..`), at most 128 chars. */
const NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

export type NameKind = 'exchange' | 'queue' | 'topic' | 'subscription' | 'user';

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function assertValidName(kind: NameKind, name: string): string {
  if (!isValidName(name)) {
    throw new MomError(
      'invalid_name',
      `${kind} name ${JSON.stringify(name.slice(0, 140))} is invalid: use 1-128 characters ` +
        'from A-Z a-z 0-9 _ - . and do not start with a dot',
    );
  }
  return name;
}
