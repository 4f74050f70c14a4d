"""Workers per network segment: the controller sends a checklist job's hosts that sit in
segments it cannot reach to a worker inside each segment, through a broker both connect
to (Celery over Redis), and writes ONE report from what comes back.

Nothing here is used without ``broker:`` in ``butler.yaml``: then every host is run in
this process, as always.

- ``segments``: which host belongs to which segment (inventory var ``butler_segment``);
- ``shard``: what travels: a shard (checklist, check ids, host names, the content
  digest) and its outcome (host runs, which worker ran them, how often it was taken);
- ``content``: the content digest, and the worker's refusal of other content;
- ``broker``: the broker's URL, password and TLS, the Celery app, queue and key names;
- ``controller``: sends shards and gathers outcomes (timeouts, lost workers);
- ``worker``: the ``butler-maint worker`` process and its task;
- ``claims``: run-due's one claim per occurrence, shared by several controllers.

Redelivery (a worker killed mid-shard): Celery acknowledges a shard only after it ran
(``acks_late``); the Redis transport puts an unacknowledged message back in its queue
once it is older than the visibility timeout. A worker running a shard keeps it fresh
(its heartbeat), so only the shard of a worker that stopped goes back, and another
worker of the segment takes it; the outcome says it was taken more than once.
"""
