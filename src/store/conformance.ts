import { afterEach, beforeEach, describe } from 'node:test';
import { testCampaignControl } from './conformance/campaign-control.ts';
import { testCampaigns } from './conformance/campaigns.ts';
import { testCoordination } from './conformance/coordination.ts';
import { testFeed } from './conformance/feed.ts';
import { Fixture } from './conformance/fixture.ts';
import { testHistory } from './conformance/history.ts';
import { testInstances } from './conformance/instances.ts';
import { testJobs } from './conformance/jobs.ts';
import { testOverview } from './conformance/overview.ts';
import { testRuns } from './conformance/runs.ts';
import { testSamples } from './conformance/samples.ts';
import { testStatusCounts } from './conformance/status-counts.ts';
import { testTransitions } from './conformance/transitions.ts';
import type { StateStore } from './contract.ts';

/** A fresh, migrated, empty store for one test, and how to reach the same data again. */
export interface OpenedStore {
  store: StateStore;
  /** Another handle on the same database (a second controller); the suite closes it. */
  another(): Promise<StateStore>;
  cleanup(): Promise<void>;
}

/**
 * The `StateStore` conformance suite: every backend runs it against a real
 * server. `open` returns a fresh store for each test; the suite calls
 * `cleanup` after it.
 */
export function runStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`StateStore conformance: ${name}`, () => {
    const f = new Fixture();
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      const opened = await open();
      f.store = opened.store;
      f.openAnother = () => opened.another();
      cleanup = opened.cleanup;
    });
    afterEach(async () => {
      await f.closeOthers();
      f.store = undefined;
      await cleanup?.();
      cleanup = undefined;
    });

    testRuns(f);
    testInstances(f);
    testTransitions(f);
    testJobs(f);
    testHistory(f);
    testOverview(f);
    testCampaigns(f);
    testCampaignControl(f);
    testStatusCounts(f);
    testFeed(f);
    testSamples(f);
    testCoordination(f);
  });
}
