/**
 * What a run lets its caller watch while it runs (`mombroker bench` draws it on a terminal):
 * messages published (confirmed by the broker) and consumed so far, from the run's start.
 */
export interface LiveCounts {
  published: number;
  consumed: number;
}

/** Given once, when the run starts: reads the counts at any time, at no cost to the run. */
export type ObserveRun = (read: () => LiveCounts) => void;
