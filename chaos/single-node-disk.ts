/**
 * Scenario 9's second half: a single node (`mombroker --role all`) whose data dir is a small
 * tmpfs that fills up. A publish must then be answered 507 with code `insufficient_storage`
 * (never 201 for what it could not store, never 500), and every message acknowledged before
 * must stay readable. Plain HTTP (fetch), so that the SDK's retries do not hide the answer.
 */
import { randomBytes } from 'node:crypto';
import type { ScenarioContext } from './context';
import { BrokerProcess } from './process';
import { mountTmpfs } from './tmpfs';

const DISK_MIB = 24;
const BEFORE = 300;
const MAX_TRIES_WHILE_FULL = 300;

interface Answer {
  status: number;
  body: { error?: { code?: string }; ids?: string[]; messages?: Array<{ id: string }> } | undefined;
}

async function call(url: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  let parsed: Answer['body'];
  try {
    parsed = text === '' ? undefined : (JSON.parse(text) as Answer['body']);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed };
}

export async function checkSingleNodeDiskFull(ctx: ScenarioContext): Promise<void> {
  const disk = mountTmpfs(DISK_MIB, 'mom-chaos-single-');
  const password = `single-${randomBytes(9).toString('base64url')}`;
  const broker = new BrokerProcess('single', disk.dir, ['--role', 'all', '--data', disk.dir, '--listen', '127.0.0.1:0'], { MOM_ADMIN_PASSWORD: password, MOM_LOG_LEVEL: 'info' });
  await broker.start();
  try {
    const login = await call(broker.url, undefined, 'POST', '/auth', { user: 'admin', pass: password });
    const token = (login.body as { token?: string } | undefined)?.token;
    if (login.status !== 200 || token === undefined) throw new Error(`login to the single node answered ${login.status}`);
    const path = '/v1/exchanges/chaos/queues/full';
    await call(broker.url, token, 'PUT', '/v1/exchanges/chaos');
    await call(broker.url, token, 'PUT', path);
    const filler = 'x'.repeat(1_000);
    const acked: string[] = [];
    for (let i = 0; i < BEFORE; i++) {
      const answer = await call(broker.url, token, 'POST', `${path}/messages`, { payload: { i, filler }, id: `before-${i}` });
      if (answer.status === 201) acked.push(`before-${i}`);
    }
    disk.fill();
    let refusal: Answer | undefined;
    const statuses = new Map<number, number>();
    for (let i = 0; i < MAX_TRIES_WHILE_FULL && refusal === undefined; i++) {
      const answer = await call(broker.url, token, 'POST', `${path}/messages`, { payload: { i, filler }, id: `during-${i}` });
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status === 201) acked.push(`during-${i}`);
      else refusal = answer;
    }
    const code = refusal?.body?.error?.code;
    ctx.check('single node, full disk: a publish is answered 507 insufficient_storage', refusal?.status === 507 && code === 'insufficient_storage', `answers while full: ${JSON.stringify(Object.fromEntries(statuses))}; refusal ${refusal?.status} ${code}`);
    // Everything acknowledged stays readable while the disk is full (pulls need no write).
    const read = new Set<string>();
    for (let i = 0; i < 50 && read.size < acked.length; i++) {
      const pulled = await call(broker.url, token, 'GET', `${path}/messages?max=100&wait_ms=200&lease_ms=600000`);
      const messages = pulled.body?.messages ?? [];
      if (pulled.status !== 200 || messages.length === 0) break;
      for (const message of messages) read.add(message.id);
    }
    const missing = acked.filter((id) => !read.has(id));
    ctx.check('single node, full disk: every message acknowledged before stays readable', missing.length === 0, `${acked.length} acknowledged, ${read.size} read back while the disk was full${missing.length > 0 ? `; missing e.g. ${missing.slice(0, 3).join(', ')}` : ''}`);
  } finally {
    disk.free();
    await broker.stop('SIGKILL');
  }
}
