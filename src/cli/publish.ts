/**
 * `mombroker publish EXCHANGE QUEUE [MESSAGE]` or `mombroker publish EXCHANGE --topic T [MESSAGE]`.
 * MESSAGE is JSON, or else a string. Without MESSAGE, each non-empty stdin line is a message
 * (JSON, or else a string). Prints one id per message, in order.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { MomClientError, type Connection, type Headers, type Queue, type Topic } from '../client';
import { clientCommand, runClient, usageError, writeOut } from './client-options';

interface PublishFlags {
  topic?: string;
  id?: string;
  header: string[];
}

/** stdin lines published before their ids are printed; the SDK batches them into requests. */
const STDIN_WINDOW = 1000;

export function registerPublishCommand(program: Command): void {
  clientCommand(program, 'publish')
    .description('publish a message (or one per stdin line) to a queue, or to a topic with --topic; prints the ids')
    .argument('<exchange>', 'exchange name')
    .argument('[queue-and-message...]', 'QUEUE [MESSAGE], or [MESSAGE] with --topic; without MESSAGE, stdin has one message per line')
    .option('--topic <topic>', 'publish to this topic instead of a queue')
    .option('--id <id>', 'producer id: the broker stores the message once per dedup window (single MESSAGE only)')
    .option('--header <key=value>', 'message header (repeatable)', collect, [])
    .action(async (exchange: string, rest: string[], _options: unknown, command: Command) => {
      const flags = command.opts<PublishFlags>();
      await runClient(
        command,
        () => checkArguments(rest, flags),
        (connection, input) => publish(connection, exchange, input),
      );
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface PublishInput {
  queue: string | undefined;
  topic: string | undefined;
  /** The MESSAGE argument; undefined means stdin. */
  message: string | undefined;
  id: string | undefined;
  headers: Headers | undefined;
}

function checkArguments(rest: string[], flags: PublishFlags): PublishInput {
  const headers = parseHeaders(flags.header);
  let queue: string | undefined;
  let message: string | undefined;
  if (flags.topic !== undefined) {
    if (rest.length > 1) throw usageError(`with --topic, expected at most one MESSAGE after the exchange, got ${rest.length} arguments`);
    message = rest[0];
  } else {
    if (rest.length === 0) throw usageError('expected a QUEUE after the exchange (or --topic TOPIC)');
    if (rest.length > 2) throw usageError(`expected QUEUE [MESSAGE], got ${rest.length} arguments (quote a message that has spaces)`);
    [queue, message] = rest;
  }
  if (message === undefined && flags.id !== undefined) throw usageError('--id needs a MESSAGE argument: stdin has many messages, and each would need its own id');
  return { queue, topic: flags.topic, message, id: flags.id, headers };
}

async function publish(connection: Connection, exchange: string, input: PublishInput): Promise<void> {
  const target = input.topic !== undefined ? connection.topic(exchange, input.topic) : connection.queue(exchange, input.queue!);
  if (input.message !== undefined) {
    const id = await target.publish(parseMessage(input.message), { headers: input.headers, id: input.id });
    await writeOut(`${id}\n`);
    return;
  }
  await publishLines(target, input.headers);
}

function parseHeaders(pairs: string[]): Headers | undefined {
  if (pairs.length === 0) return undefined;
  const entries = pairs.map((pair): [string, string] => {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`--header: expected key=value, got ${JSON.stringify(pair)}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
  // fromEntries defines own properties: a header named __proto__ is kept, not swallowed by the setter.
  return Object.fromEntries(entries);
}

/** JSON when it parses, else the text itself as a JSON string. */
export function parseMessage(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function publishLines(target: Queue | Topic, headers: Headers | undefined): Promise<void> {
  if (process.stdin.isTTY) process.stderr.write('mombroker: reading messages from stdin, one per line; end with Ctrl-D\n');
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  let window: Array<Promise<string>> = [];
  let lineNumbers: number[] = [];
  const drain = async (): Promise<void> => {
    const results = await Promise.allSettled(window);
    let out = '';
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      if (result.status === 'rejected') {
        await writeOut(out);
        throw lineError(result.reason, lineNumbers[i]!);
      }
      out += `${result.value}\n`;
    }
    await writeOut(out);
    window = [];
    lineNumbers = [];
  };
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    const publishing = target.publish(parseMessage(line), { headers });
    // Settled by drain(); marked handled now so a quick failure is not an unhandled rejection.
    publishing.catch(() => {});
    window.push(publishing);
    lineNumbers.push(lineNumber);
    if (window.length >= STDIN_WINDOW) await drain();
  }
  await drain();
}

function lineError(error: unknown, line: number): Error {
  const where = `message on line ${line}`;
  const after = '(the messages on earlier lines were published; later ones may have been)';
  if (error instanceof MomClientError) {
    return new MomClientError(error.code, `${where}: ${error.message} ${after}`, { status: error.status, retryable: error.retryable, details: error.details, cause: error });
  }
  return new Error(`${where}: ${error instanceof Error ? error.message : String(error)} ${after}`, { cause: error });
}
