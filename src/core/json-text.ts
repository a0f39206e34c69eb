/**
 * What a JSON request body may hold beyond being valid JSON (DESIGN §8 "Payload"): nesting
 * bounded, and numbers that survive the trip through a JavaScript number unchanged. Pure: it
 * reads the text as sent, because JSON.parse has already lost what it rounded.
 */
import { MomError } from './errors';

/**
 * Arrays and objects may nest this deep, counted from the body's outermost value: a payload
 * in `{"messages":[{"payload":…}]}` starts at level 3. Deeper bodies were a stack overflow in
 * JSON.stringify (a 500) at about 4,100 levels; 100 is far above what data needs.
 */
export const MAX_JSON_DEPTH = 100;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * A number literal of at most 15 characters without an exponent has at most 15 significant
 * digits and a magnitude within 1e-14…1e15, so it is always exact as a double: only longer
 * ones, and ones with an exponent (`1e400` is short), are compared digit by digit.
 */
const ALWAYS_EXACT_LENGTH = 15;

/**
 * Refuses (400 `bad_request`) text that JSON.parse accepted but that this broker would store
 * altered or could not serialize again: nesting beyond `maxDepth`, a number that does not
 * survive the round trip (`1e400` becomes Infinity and then null, `0.1e-400` becomes 0), and
 * an integer outside ±(2^53 − 1), which JavaScript clients cannot hold exactly.
 * Call it on text that JSON.parse accepted; on other text its answer means nothing.
 */
export function checkJsonText(text: string, maxDepth: number = MAX_JSON_DEPTH): void {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        throw new MomError('bad_request', `JSON nests deeper than ${maxDepth} levels (arrays and objects, counted from the body's outermost value); flatten the payload`);
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let end = i + 1;
      let exponent = false;
      for (let d = text.charCodeAt(end); end < length && isNumberChar(d); d = text.charCodeAt(++end)) {
        if (d === 0x65 || d === 0x45) exponent = true;
      }
      if (exponent || end - i > ALWAYS_EXACT_LENGTH) checkNumber(text.slice(i, end));
      i = end - 1;
    }
  }
}

/** Index of the quote that closes the string opening at `open`. */
function endOfString(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return text.length;
    let backslashes = 0;
    for (let k = at - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

function isNumberChar(c: number): boolean {
  // digits, '.', 'e', 'E', '+', '-'
  return (c >= ZERO && c <= NINE) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS;
}

function checkNumber(literal: string): void {
  const value = Number(literal);
  const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal;
  if (!Number.isFinite(value)) {
    throw new MomError('bad_request', `number ${shown} is out of range for a double (it would be stored as null); send it as a string`);
  }
  if (/^-?\d+$/.test(literal) && !Number.isSafeInteger(value)) {
    throw new MomError('bad_request', `integer ${shown} is beyond ±(2^53 - 1) and would be rounded; send it as a string`);
  }
  if (!sameDecimal(literal, String(value))) {
    throw new MomError('bad_request', `number ${shown} cannot be stored exactly (it would become ${String(value)}); send it as a string`);
  }
}

/** Whether two JSON number literals are the same decimal value (`1.50` and `1.5e0` are). */
export function sameDecimal(a: string, b: string): boolean {
  const x = decimal(a);
  const y = decimal(b);
  return x.negative === y.negative && x.digits === y.digits && x.exponent === y.exponent;
}

/** `digits × 10^exponent`, digits without leading or trailing zeros; zero is ('', 0), unsigned. */
function decimal(literal: string): { negative: boolean; digits: string; exponent: number } {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return { negative: false, digits: literal, exponent: Number.NaN };
  const [, sign, whole, fraction = '', exp = '0'] = match;
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  let exponent = Number(exp) - fraction.length;
  const trimmed = digits.replace(/0+$/, '');
  exponent += digits.length - trimmed.length;
  digits = trimmed;
  if (digits === '') return { negative: false, digits: '', exponent: 0 };
  return { negative: sign === '-', digits, exponent };
}
