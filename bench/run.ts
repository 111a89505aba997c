import { benchApiCampaigns } from './api-campaigns.ts';
import { benchApiOverview } from './api-overview.ts';
import { benchApiReports } from './api-reports.ts';
import { benchApiStream } from './api-stream.ts';
import { benchChainLatency } from './chain-latency.ts';
import { benchCliLatency } from './cli-latency.ts';
import { benchExitLatency } from './exit-latency.ts';
import { benchFailover } from './failover.ts';
import { benchHTCondorStatus } from './htcondor-status.ts';
import { benchInfluxMirror } from './influx-mirror.ts';
import { flags, machine } from './lib.ts';
import { benchLocalTurnaround } from './local-turnaround.ts';
import { benchMetrics } from './metrics.ts';
import { benchPageLoad } from './page-load.ts';
import { benchQueueReads } from './queue-reads.ts';
import { benchSlurmSubmit } from './slurm-submit.ts';
import { benchStoreScale } from './store-scale.ts';
import { benchThroughput } from './throughput.ts';

// `npm run bench -- --store postgres://USER@HOST:PORT/DB`: the scripts that drive a real daemon use that server.
const { store } = flags({ store: 'sqlite' });
process.stdout.write(
  `autoctrl benchmarks — ${new Date().toISOString()} — ${machine()} — store ${store}\n`,
);
const figures = [
  ...(await benchChainLatency()),
  ...(await benchThroughput({ store })),
  ...(await benchCliLatency({ store })),
  ...(await benchExitLatency({ store })),
  ...(await benchLocalTurnaround()),
  ...(await benchStoreScale({ store })),
  ...(await benchQueueReads()),
  ...(await benchFailover()),
  ...(await benchHTCondorStatus()),
  ...(await benchApiOverview()),
  ...(await benchApiCampaigns()),
  ...(await benchApiReports()),
  ...(await benchApiStream()),
  ...(await benchPageLoad()),
  ...(await benchInfluxMirror()),
  ...(await benchSlurmSubmit()),
  ...(await benchMetrics()),
];
const missed = figures.filter((f) => !f.ok);
process.stdout.write(`${figures.length - missed.length} of ${figures.length} targets met\n`);
