-- Background jobs are leased (issue #24): several servers may share one database, and the
-- server that starts a computation may die while it runs. The holder is the server process
-- running the job; it renews the lease with each heartbeat. Another server takes over a job
-- whose lease ran out (a claim that only one server can win), up to a few attempts, and a
-- holder that lost its lease can neither renew it nor store an outcome.
ALTER TABLE computations ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE computations ADD COLUMN attempts BIGINT NOT NULL DEFAULT 1;
CREATE INDEX computations_running ON computations (heartbeat_at) WHERE status = 'running';
