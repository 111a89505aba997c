import { benchApiOverview } from './api-overview.ts';
import { benchApiReports } from './api-reports.ts';
import { benchApiStream } from './api-stream.ts';
import { benchChainLatency } from './chain-latency.ts';
import { machine } from './lib.ts';
import { benchPageLoad } from './page-load.ts';
import { benchStoreScale } from './store-scale.ts';

process.stdout.write(`autoctrl benchmarks — ${new Date().toISOString()} — ${machine()}\n`);
const figures = [
  ...(await benchChainLatency()),
  ...(await benchStoreScale()),
  ...(await benchApiOverview()),
  ...(await benchApiReports()),
  ...(await benchApiStream()),
  ...(await benchPageLoad()),
];
const missed = figures.filter((f) => !f.ok);
process.stdout.write(`${figures.length - missed.length} of ${figures.length} targets met\n`);
