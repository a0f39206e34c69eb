/**
 * Ratios to the best peer of the same run, pure. The machine's speed drifts by a third from
 * hour to hour, so an absolute figure says little; a ratio between brokers measured in one
 * run, interleaved, does compare. For every figure (min, median and max over runs of every
 * metric) the best peer is the peer with the best value of that same figure — the highest
 * throughput, the lowest latency or CPU — and every broker's figure is divided by it: a
 * throughput ratio above 1 and a latency or CPU ratio below 1 beat the best peer.
 */
import type { Spread } from '../src/loadgen/stats';

export type Better = 'higher' | 'lower';

export interface MetricSpec {
  key: string;
  better: Better;
}

export interface BrokerFigures {
  name: string;
  /** A peer (RabbitMQ, NATS) rather than the broker under test. */
  peer: boolean;
  /** Missing when the metric was not measured for this broker (phase skipped or failed). */
  figures: Partial<Record<string, Spread>>;
}

export type Statistic = keyof Spread;
export const STATISTICS: readonly Statistic[] = ['min', 'median', 'max'];

export interface Best {
  broker: string;
  value: number;
}

/** Ratio of each figure (min, median, max) to the best peer's same figure; null where there is none. */
export type RatioSpread = Record<Statistic, number | null>;

export interface Comparison {
  /** Per metric and figure: which peer was best, with what value. Absent when no peer measured it. */
  bestPeer: Record<string, Partial<Record<Statistic, Best>>>;
  /** Per broker (peers included), per metric. */
  ratios: Record<string, Record<string, RatioSpread>>;
}

function isBetter(candidate: number, current: number, better: Better): boolean {
  return better === 'higher' ? candidate > current : candidate < current;
}

/** The best peer's value of one figure of one metric, or undefined when no peer has it. */
export function bestPeer(brokers: readonly BrokerFigures[], metric: MetricSpec, statistic: Statistic): Best | undefined {
  let best: Best | undefined;
  for (const broker of brokers) {
    if (!broker.peer) continue;
    const value = broker.figures[metric.key]?.[statistic];
    if (value === undefined || !Number.isFinite(value)) continue;
    // A peer that moved nothing is not a yardstick for throughput.
    if (metric.better === 'higher' && !(value > 0)) continue;
    if (best === undefined || isBetter(value, best.value, metric.better)) best = { broker: broker.name, value };
  }
  return best;
}

/** value / best, or null when either is missing or the best is 0 (no ratio to speak of). */
export function ratio(value: number | undefined, best: number | undefined): number | null {
  if (value === undefined || best === undefined || !Number.isFinite(value) || !Number.isFinite(best) || best === 0) return null;
  return value / best;
}

export function compareToBestPeer(brokers: readonly BrokerFigures[], metrics: readonly MetricSpec[]): Comparison {
  const comparison: Comparison = { bestPeer: {}, ratios: {} };
  for (const metric of metrics) {
    const bests: Partial<Record<Statistic, Best>> = {};
    for (const statistic of STATISTICS) {
      const best = bestPeer(brokers, metric, statistic);
      if (best !== undefined) bests[statistic] = best;
    }
    comparison.bestPeer[metric.key] = bests;
    for (const broker of brokers) {
      const figures = broker.figures[metric.key];
      const ratios: RatioSpread = { min: null, median: null, max: null };
      for (const statistic of STATISTICS) ratios[statistic] = ratio(figures?.[statistic], bests[statistic]?.value);
      (comparison.ratios[broker.name] ??= {})[metric.key] = ratios;
    }
  }
  return comparison;
}

/** "1.52×", or "-" when there is no ratio. */
export function formatRatio(value: number | null): string {
  if (value === null) return '-';
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)}×`;
}
