/**
 * This node's registration, `<root>/nodes/<id>` EPHEMERAL (DESIGN §4): it lives as long as
 * the session that created it.
 */
import { CreateMode } from 'node-zookeeper-client';
import { MomError } from '../core/errors';
import type { Logger } from '../runtime/logger';
import type { NodeInfo } from './coordinator';
import type { ZkClient } from './zk-client';
import { encodeNode, type ZkLayout } from './zk-layout';

/**
 * Creates `nodes/<id>`. If it exists and is ours (an answer lost with a connection), it is
 * updated. If another session holds it — usually this node's previous process, whose session
 * has not expired yet — it waits for that session to end, up to twice the session timeout,
 * then gives up with `conflict`.
 */
export async function writeRegistration(zk: ZkClient, layout: ZkLayout, info: NodeInfo, log: Logger): Promise<void> {
  const path = layout.node(info.id);
  const data = encodeNode(info);
  const deadline = Date.now() + 2 * zk.sessionTimeoutMs() + 1_000;
  let waited = false;
  for (;;) {
    if (await zk.create(path, data, CreateMode.EPHEMERAL)) return;
    const existing = await zk.getData(path);
    if (!existing) continue; // gone in between: create again
    if (existing.stat.ephemeralOwner.equals(zk.sessionId())) {
      if (existing.data.equals(data)) return;
      const result = await zk.setData(path, data, existing.stat.version);
      if (typeof result !== 'string') return;
      continue;
    }
    const owner = `0x${existing.stat.ephemeralOwner.toString('hex').replace(/^0+(?=.)/, '')}`;
    if (Date.now() >= deadline) {
      throw new MomError(
        'conflict',
        `node id ${info.id} is registered in ZooKeeper by another live session (${owner}); ` +
          `is another process running with --node-id ${info.id}?`,
      );
    }
    if (!waited) log.info('node id held by an older session; waiting for it to expire', { node: info.id, owner });
    waited = true;
    await waitForDeletion(zk, path, Math.min(deadline - Date.now(), zk.sessionTimeoutMs()));
  }
}

/** Removes `nodes/<id>` if this session holds it (another session's is left alone). */
export async function removeRegistration(zk: ZkClient, layout: ZkLayout, id: string): Promise<void> {
  const path = layout.node(id);
  for (;;) {
    const existing = await zk.getData(path);
    if (!existing || !existing.stat.ephemeralOwner.equals(zk.sessionId())) return;
    if ((await zk.remove(path, existing.stat.version)) !== 'bad_version') return;
  }
}

/** Resolves when `path` is deleted (an existence watch) or after `timeoutMs`, whichever is first. */
function waitForDeletion(zk: ZkClient, path: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, timeoutMs));
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    zk.exists(path, done).then((stat) => (stat ? undefined : done()), done);
  });
}
