/**
 * Controller election on ZooKeeper, the ephemeral-sequential recipe (DESIGN §4):
 *
 * 1. Each candidate creates `<root>/controller_election/candidate-<uuid>-<seq>` EPHEMERAL_SEQUENTIAL.
 *    The uuid lets a candidate find its own node again when the create's answer was lost.
 * 2. The lowest sequence number wins; every other candidate watches only its predecessor,
 *    so a departure wakes one candidate, not all of them (no herd).
 * 3. The winner, in one multi: checks its candidate node still exists (its session is alive),
 *    bumps `<root>/controller_epoch` by compare-and-set, and creates `<root>/controller`
 *    EPHEMERAL with its id and the new epoch.
 *
 * Epoch and znode version: `controller_epoch` is created holding 0 at version 0, and is only
 * ever written by step 3, which writes `value + 1` with expected version `version`. So its
 * value always equals its znode version, and a write fenced with epoch E checks that the
 * znode's version is still E: it fails as soon as another controller has been elected.
 *
 * Leadership ends with the session: when it expires, ZooKeeper deletes the candidate and
 * `controller` nodes and the next candidate wins. This object is then finished (`onDeposed`
 * fires); its owner campaigns again with a new one if it wants the role back. A candidate
 * that has not won yet keeps campaigning across sessions.
 */
import { randomUUID } from 'node:crypto';
import { CreateMode } from 'node-zookeeper-client';
import { MomError } from '../core/errors';
import type { Logger } from '../runtime/logger';
import type { ControllerElection, Unsubscribe } from './coordinator';
import type { MultiOp, ZkClient } from './zk-client';
import type { SessionHost } from './zk-watch';
import { decodeController, decodeEpoch, encodeController, encodeEpoch, type ZkLayout } from './zk-layout';

type Phase = 'campaigning' | 'leader' | 'deposed' | 'resigned';

const RETRY_DELAY_MS = 500;
const SEQUENCE = /-(\d{10})$/;

export class ZkControllerElection implements ControllerElection {
  readonly elected: Promise<number>;
  private resolveElected!: (epoch: number) => void;
  private rejectElected!: (error: Error) => void;
  private phase: Phase = 'campaigning';
  private epoch: number | undefined;
  private readonly tag = randomUUID();
  /** Our candidate node in the session `candidateClient`. */
  private candidate: string | undefined;
  private candidateClient: ZkClient | undefined;
  private readonly deposedListeners = new Set<() => void>();
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  /** One function for every watch we set, so the client library never stacks duplicates. */
  private readonly onPredecessorEvent = (): void => this.kick();

  constructor(
    private readonly host: SessionHost,
    private readonly layout: ZkLayout,
    readonly candidateId: string,
    logger: Logger,
    private readonly onFinished: (election: ZkControllerElection) => void,
  ) {
    this.log = logger.child({ candidate: candidateId });
    this.elected = new Promise<number>((resolve, reject) => {
      this.resolveElected = resolve;
      this.rejectElected = reject;
    });
    // Whoever drops this promise after a resign must not crash the process.
    this.elected.catch(() => {});
  }

  isLeader(): boolean {
    return this.phase === 'leader';
  }

  /** The controller epoch this candidate won, once it has. */
  controllerEpoch(): number | undefined {
    return this.epoch;
  }

  onDeposed(listener: () => void): Unsubscribe {
    this.deposedListeners.add(listener);
    return () => this.deposedListeners.delete(listener);
  }

  /** The coordinator calls this on every connection (new session or not); watches call it too. */
  kick(): void {
    if (this.phase !== 'campaigning') return;
    if (this.running) {
      this.again = true;
      return;
    }
    const client = this.host.connectedClient();
    if (!client) return; // the next connection kicks again
    this.again = false;
    this.running = this.campaign(client).finally(() => {
      this.running = undefined;
      if (this.again) this.kick();
    });
  }

  /** The session expired: its ephemeral nodes are gone, and with them any leadership. */
  sessionExpired(): void {
    this.candidate = undefined;
    this.candidateClient = undefined;
    if (this.phase !== 'leader') return;
    this.phase = 'deposed';
    this.log.warn('controller deposed: ZooKeeper session expired', { controllerEpoch: this.epoch });
    this.finish();
    for (const listener of [...this.deposedListeners]) {
      try {
        listener();
      } catch (error) {
        this.log.error('onDeposed listener failed', { error: error as Error });
      }
    }
    this.deposedListeners.clear();
  }

  /** Ends the candidacy without touching ZooKeeper (the coordinator is closing its session). */
  abandon(): void {
    if (this.phase === 'resigned' || this.phase === 'deposed') return;
    this.phase = 'resigned';
    this.rejectElected(new MomError('unavailable', `controller candidacy of ${this.candidateId} ended: the coordinator closed`));
    this.finish();
  }

  async resign(): Promise<void> {
    if (this.phase === 'resigned' || this.phase === 'deposed') return;
    this.phase = 'resigned';
    this.rejectElected(new MomError('unavailable', `controller candidacy of ${this.candidateId} was withdrawn`));
    this.finish();
    await this.running; // a win in flight completes first, so its nodes are removed below
    const client = this.candidateClient;
    const candidate = this.candidate;
    this.candidate = undefined;
    // Gone with its session, or about to be. A session that is only disconnected keeps its
    // nodes, so the removal below waits (bounded) for the connection to come back.
    if (!client || !candidate || client.currentState() === 'expired' || client.currentState() === 'closed') return;
    try {
      const ops: MultiOp[] = [{ op: 'remove', path: candidate, version: -1 }];
      const controller = await client.getData(this.layout.controller);
      const record = controller && decodeController(controller.data);
      if (controller && record && record.id === this.candidateId && record.epoch === this.epoch) {
        ops.push({ op: 'remove', path: this.layout.controller, version: controller.stat.version });
      }
      const result = await client.multi(ops);
      if (!result.ok) await client.remove(candidate);
      this.log.info('controller candidacy withdrawn', { controllerEpoch: this.epoch });
    } catch (error) {
      // The nodes are ephemeral: at worst they go when the session closes.
      this.log.warn('could not withdraw controller candidacy cleanly', { error: error as Error });
    }
  }

  private finish(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.onFinished(this);
  }

  private async campaign(client: ZkClient): Promise<void> {
    try {
      for (;;) {
        if (this.phase !== 'campaigning') return;
        if (this.host.connectedClient() !== client) {
          this.again = true; // a newer connection: start over on it
          return;
        }
        this.again = false;
        await this.step(client);
        if (!this.again) return;
      }
    } catch (error) {
      if (this.phase !== 'campaigning') return;
      if (this.host.connectedClient() !== client) {
        this.again = true;
        return;
      }
      this.log.warn('controller election step failed; retrying', { error: error as Error });
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.kick();
      }, RETRY_DELAY_MS);
    }
  }

  /** One pass of the recipe; sets `again` when it must run once more. */
  private async step(client: ZkClient): Promise<void> {
    if (this.candidateClient !== client || !this.candidate) {
      this.candidate = await this.createCandidate(client);
      this.candidateClient = client;
    }
    const children = (await client.getChildren(this.layout.election)) ?? [];
    const queue = children.filter((name) => SEQUENCE.test(name)).sort((a, b) => sequenceOf(a) - sequenceOf(b));
    const mine = queue.indexOf(this.candidate.slice(this.layout.election.length + 1));
    if (mine < 0) {
      // Our node is gone (deleted by hand, or the session is ending): enter the queue again.
      this.candidate = undefined;
      this.again = true;
      return;
    }
    if (mine === 0) {
      await this.win(client);
      return;
    }
    // Watch only the predecessor (no herd effect); if it is already gone, look again.
    const predecessor = `${this.layout.election}/${queue[mine - 1]}`;
    const stat = await client.exists(predecessor, this.onPredecessorEvent);
    if (!stat) this.again = true;
    else this.log.debug('standing by for the controller role', { behind: predecessor });
  }

  private async createCandidate(client: ZkClient): Promise<string> {
    const prefix = `candidate-${this.tag}-`;
    // The answer to an earlier create may have been lost with the connection: look first.
    const existing = ((await client.getChildren(this.layout.election)) ?? []).find((name) => name.startsWith(prefix));
    if (existing) return `${this.layout.election}/${existing}`;
    const created = await client.create(
      `${this.layout.election}/${prefix}`,
      Buffer.from(JSON.stringify({ id: this.candidateId })),
      CreateMode.EPHEMERAL_SEQUENTIAL,
    );
    if (!created) throw new MomError('internal', 'ZooKeeper refused a sequential candidate node as existing');
    return created;
  }

  private async win(client: ZkClient): Promise<void> {
    const node = await client.getData(this.layout.controllerEpoch);
    if (!node) {
      await client.create(this.layout.controllerEpoch, encodeEpoch(0), CreateMode.PERSISTENT);
      this.again = true;
      return;
    }
    const current = decodeEpoch(node.data);
    if (current !== node.stat.version) {
      throw new MomError(
        'internal',
        `${this.layout.controllerEpoch} holds ${JSON.stringify(node.data.toString('utf8'))} at version ` +
          `${node.stat.version}; the controller epoch must equal its znode version (was it written by hand?)`,
      );
    }
    const epoch = current + 1;
    const ops: MultiOp[] = [
      { op: 'check', path: this.candidate!, version: -1 },
      { op: 'setData', path: this.layout.controllerEpoch, data: encodeEpoch(epoch), version: node.stat.version },
    ];
    // Normally absent: the previous controller's node went with its session or its resignation.
    const stale = await client.exists(this.layout.controller);
    if (stale) ops.push({ op: 'remove', path: this.layout.controller, version: stale.version });
    ops.push({
      op: 'create',
      path: this.layout.controller,
      data: encodeController({ id: this.candidateId, epoch }),
      mode: CreateMode.EPHEMERAL,
    });
    const result = await client.multi(ops);
    if (!result.ok) {
      if (result.index === 0) this.candidate = undefined; // our session lost its node
      this.log.debug('controller claim lost a race; looking again', { failedOp: result.index, code: result.code });
      this.again = true;
      return;
    }
    this.epoch = epoch;
    if (this.phase !== 'campaigning') return; // resigned meanwhile; resign() removes the nodes
    this.phase = 'leader';
    this.log.info('elected controller', { controllerEpoch: epoch });
    this.resolveElected(epoch);
  }
}

function sequenceOf(name: string): number {
  return Number(SEQUENCE.exec(name)?.[1] ?? Number.MAX_SAFE_INTEGER);
}
