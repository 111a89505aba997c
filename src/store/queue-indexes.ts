/**
 * Indexes over the job queue for what every pass reads (both backends): the
 * claimed jobs (jobsInFlight), the next ready ones (readyJobs) and the next
 * delayed retry (nextJobRetry). Without them each read goes through every idle
 * job, and a queue of 20,000 costs milliseconds a pass on SQLite.
 * The WHERE clauses are those of the reads.
 */
export const QUEUE_INDEXES_SQL = `
CREATE INDEX jobs_in_flight ON jobs (id) WHERE status IN ('idle', 'running') AND claimed_by IS NOT NULL;
CREATE INDEX jobs_ready ON jobs (executor, campaign, id) WHERE status = 'idle' AND claimed_by IS NULL;
CREATE INDEX jobs_retry ON jobs (not_before) WHERE status = 'idle' AND claimed_by IS NULL;
`;

export const QUEUE_INDEXES_NAME = 'claimed, ready and delayed jobs found without reading the queue';
