import type { InstanceStatus, JobStatus } from '../model/types.ts';
import type { StatusCounts } from './contract.ts';

/** One row of a backend's `status_counts` table: `name` is the task of instances, the executor of jobs. */
export interface StatusCountRow {
  kind: 'instance' | 'job';
  campaign: string;
  name: string;
  status: string;
  n: number;
}

/** Rows ordered by (kind, campaign, name, status), zeros already left out, as `statusCounts` returns them. */
export function toStatusCounts(rows: readonly StatusCountRow[]): StatusCounts {
  const out: StatusCounts = { instances: [], jobs: [] };
  for (const r of rows) {
    if (r.kind === 'instance')
      out.instances.push({
        campaign: r.campaign,
        task: r.name,
        status: r.status as InstanceStatus,
        count: r.n,
      });
    else
      out.jobs.push({
        campaign: r.campaign,
        executor: r.name,
        status: r.status as JobStatus,
        count: r.n,
      });
  }
  return out;
}
