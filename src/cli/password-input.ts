/**
 * Passwords the CLI reads without putting them on its command line (where `ps` shows them to
 * every user of the machine): the first line of stdin, or a prompt on the terminal that echoes
 * nothing.
 */
import type { Readable } from 'node:stream';
import { MomError } from '../core/errors';

/**
 * The first line of `stream`, without its line ending (`undefined` for an empty stream). What
 * follows the line is put back, so a command can read the rest of stdin afterwards
 * (`mombroker publish --password-stdin` takes the password, then one message per line).
 */
export function readFirstLine(stream: Readable): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onReadable = () => {
      let chunk: Buffer | string | null;
      while ((chunk = stream.read() as Buffer | string | null) !== null) {
        const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        const end = data.indexOf(0x0a);
        if (end < 0) {
          head = Buffer.concat([head, data]);
          continue;
        }
        cleanup();
        const rest = data.subarray(end + 1);
        if (rest.length > 0) stream.unshift(rest);
        resolve(Buffer.concat([head, data.subarray(0, end)]).toString('utf8').replace(/\r$/, ''));
        return;
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(head.length > 0 ? head.toString('utf8').replace(/\r$/, '') : undefined);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

/** `--password-stdin`: the first line of stdin, which must be there and not be empty. */
export async function passwordFromStdin(flag = '--password-stdin'): Promise<string> {
  const password = await readFirstLine(process.stdin);
  if (password === undefined || password === '') throw new MomError('config_invalid', `${flag}: stdin had no password line`);
  return password;
}

/** Reads a line from the TTY in raw mode, echoing nothing. Ctrl-C cancels. */
export function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows, so nothing typed after seeing it is echoed.
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new MomError('bad_request', 'password entry cancelled; nothing changed'));
          return;
        }
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else value += char;
      }
    };
    stdin.on('data', onData);
  });
}
