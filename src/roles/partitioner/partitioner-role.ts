/**
 * The partitioner role (DESIGN §1, §6): the routing map over HTTP and the cluster controller.
 *
 * - `POST /routing {"exchange","routing_key"}` → where that key lives:
 *   `{"partition","leader","node_location","replicas","leader_epoch"}`.
 * - `GET /partitions` → the whole map, the controller and the live nodes.
 *
 * No token (DESIGN §8: internal addresses only). Answers come from a copy of the map kept by
 * watching the coordinator; the partitioner is not on the data path.
 */
import type { Coordinator } from '../../coordination/coordinator';
import { PartitionMap, type Route } from '../../coordination/partition-map';
import { MomError } from '../../core/errors';
import { assertValidName, isValidName } from '../../core/names';
import { readJsonBody } from '../../http/body';
import { sendJson } from '../../http/response';
import { Router, type RequestContext } from '../../http/router';
import type { Lifecycle } from '../../runtime/lifecycle';
import type { Logger } from '../../runtime/logger';
import type { Metrics } from '../../runtime/metrics';
import { Controller, type ControllerStatus } from './controller';

export interface PartitionerRoleOptions {
  coordinator: Coordinator;
  /** This partitioner's id as a controller candidate (e.g. the process's node id). */
  candidateId: string;
  /** Partition count proposed if the cluster is new. */
  partitions: number;
  replicationFactor: number;
  uncleanElection: boolean;
  logger: Logger;
  /** Live nodes needed before partitions are created; default the replication factor. */
  minNodesToPlace?: number;
  /** Place with fewer nodes once this long has passed since the first one registered; default 5 s. */
  placementGraceMs?: number;
}

/** What `POST /routing` answers (DESIGN §6). */
export type RoutingAnswer = Route;

const ROUTING_BODY_LIMIT = 16 * 1024;

/** The routing map over HTTP and the controller, with one lifecycle (see runtime/lifecycle.ts). */
export class PartitionerRole implements Lifecycle {
  readonly router: Router;
  readonly controller: Controller;
  private readonly map: PartitionMap;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: PartitionerRoleOptions) {
    this.map = new PartitionMap(options.coordinator);
    this.controller = new Controller({
      coordinator: options.coordinator,
      candidateId: options.candidateId,
      partitions: options.partitions,
      replicationFactor: options.replicationFactor,
      uncleanElection: options.uncleanElection,
      minNodesToPlace: options.minNodesToPlace,
      placementGraceMs: options.placementGraceMs,
      logger: options.logger,
    });
    this.router = new Router()
      .post('/routing', (ctx) => routing(ctx, this.map))
      .get('/partitions', (ctx) => sendJson(ctx.res, 200, describe(this.map, this.controller.status())));
  }

  /**
   * The cluster as this partitioner sees it, read at scrape time: whether it is the active
   * controller, the live nodes, and the partitions without a leader or with fewer in-sync
   * replicas than replicas (Kafka's OfflinePartitionsCount and UnderReplicatedPartitions).
   */
  registerMetrics(metrics: Metrics): void {
    const map = this.map;
    metrics.gauge('mom_controller_active', '1 while this partitioner is the active cluster controller, 0 while it stands by', () => (this.controller.status().active ? 1 : 0));
    metrics.gauge('mom_cluster_nodes', 'nodes registered in the cluster', () => map.liveNodes().length);
    metrics.gauge('mom_cluster_partitions', 'partitions of the cluster', () => map.all().length);
    metrics.gauge('mom_cluster_partitions_offline', 'partitions that have no leader (not writable or readable)', () => map.all().filter((route) => route.leader === null).length);
    metrics.gauge('mom_cluster_partitions_under_replicated', 'partitions with fewer in-sync replicas than replicas', () =>
      map.all().filter((route) => map.isr(route.partition).length < route.replicas.length).length);
  }

  /** Watches the map and enters the controller election (without waiting to win it). */
  async start(): Promise<void> {
    try {
      await this.map.start(this.options.partitions);
      await this.controller.start();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Stops the controller (withdrawing its candidacy) and the watches. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.map.close();
      await this.controller.close();
    })();
    return this.closing;
  }
}

async function routing(ctx: RequestContext, map: PartitionMap): Promise<void> {
  const body = await readJsonBody(ctx.req, ROUTING_BODY_LIMIT);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MomError('bad_request', 'POST /routing needs a JSON object {"exchange","routing_key"}');
  }
  const { exchange, routing_key: routingKey } = body as Record<string, unknown>;
  if (typeof exchange !== 'string' || typeof routingKey !== 'string') {
    throw new MomError('bad_request', 'POST /routing needs "exchange" and "routing_key" as strings');
  }
  assertValidName('exchange', exchange);
  if (!isValidName(routingKey)) {
    throw new MomError(
      'invalid_name',
      `routing_key ${JSON.stringify(routingKey.slice(0, 140))} is invalid: it is a queue or topic name, ` +
        '1-128 characters from A-Z a-z 0-9 _ - . not starting with a dot',
    );
  }
  sendJson(ctx.res, 200, map.route(exchange, routingKey));
}

/** GET /partitions: the whole map with each partition's ISR, the controller as far as known, the live nodes. */
function describe(map: PartitionMap, controller: ControllerStatus): unknown {
  return {
    partitions: map.all().map((route) => ({ ...route, isr: map.isr(route.partition) })),
    // What this process knows: itself, when it is the active controller.
    controller: controller.active ? { id: controller.candidateId, epoch: controller.controllerEpoch } : null,
    nodes: map.liveNodes(),
  };
}
