import { afterEach, beforeEach, describe } from 'node:test';
import { testCampaigns } from './conformance/campaigns.ts';
import { Fixture } from './conformance/fixture.ts';
import { testHistory } from './conformance/history.ts';
import { testInstances } from './conformance/instances.ts';
import { testJobs } from './conformance/jobs.ts';
import { testOverview } from './conformance/overview.ts';
import { testRuns } from './conformance/runs.ts';
import { testTransitions } from './conformance/transitions.ts';
import type { StateStore } from './contract.ts';

/**
 * The `StateStore` conformance suite: every backend runs it against a real
 * server. `open` returns a fresh, migrated, empty store for each test; the
 * suite calls `cleanup` after it.
 */
export function runStoreConformance(
  name: string,
  open: () => Promise<{ store: StateStore; cleanup: () => Promise<void> }>,
): void {
  describe(`StateStore conformance: ${name}`, () => {
    const f = new Fixture();
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      const opened = await open();
      f.store = opened.store;
      cleanup = opened.cleanup;
    });
    afterEach(async () => {
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
  });
}
