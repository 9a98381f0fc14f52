"""The reconciler's consumer process: the shared runner driving the message processor.

See ``processor`` for what happens to each delivery. The runner acknowledges a delivery only
after the processor returned, i.e. after its effects were committed; a crash anywhere before
leaves the message to be redelivered and, thanks to the inbox and idempotent handlers, processed
exactly once.

The same process records what lands in the dead-letter queue (``dead_letters``) and runs the
batch poster thread (``batch_poster``). The processor counts each message's own failures and
decides when to give up (``max_retries=None`` for the runner): the broker's delivery limit is
only a backstop (see docs/reliability.md).
"""

from __future__ import annotations

import dataclasses
import os

from mlconnector import metrics
from mlconnector.bus import ConsumerRunner
from mlconnector.bus import RetryPolicy
from mlconnector.config import Environment
from reconciler import SERVICE
from reconciler.batch_poster import BatchPoster
from reconciler.bootstrap import Dependencies
from reconciler.dead_letters import DeadLetterRecorder
from reconciler.kill_points import KILL_POINTS
from reconciler.kill_points import KillSwitch
from reconciler.processor import MessageProcessor
from reconciler.settings import Settings


def build_runner(settings: Settings, deps: Dependencies) -> ConsumerRunner:
    """The runner on the configured topology with the reconciler's processor."""
    kill_point = os.environ.get("MLC_KILL_POINT")
    if settings.common.environment is not Environment.TEST or kill_point not in KILL_POINTS:
        kill_point = None
    kill = KillSwitch(kill_point)
    topology = settings.common.topology()
    processor = MessageProcessor(
        deps.session_factory,
        dataclasses.replace(deps.handler_deps, kill=kill),
        actor=SERVICE,
        max_retries=settings.max_retries,
        kill=kill,
        queue=topology.queue,
    )
    return ConsumerRunner(
        settings.common.amqp_url,
        topology,
        processor,
        prefetch=settings.prefetch,
        workers=settings.workers,
        retry=RetryPolicy(max_retries=None),
        heartbeat_file=settings.heartbeat_file,
        client_name=f"{SERVICE}-consumer",
        dead_letter_handler=DeadLetterRecorder(
            deps.session_factory, work_queue=topology.queue, actor=SERVICE
        ),
        # mlc_consumer_* (counts, handling time, message age), served on MLC_METRICS_PORT.
        observer=metrics.consumer_observer,
    )


def build_poster(settings: Settings, deps: Dependencies) -> BatchPoster:
    """The batch poster for the batches the rules post automatically."""
    return BatchPoster(
        deps.session_factory,
        deps.handler_deps.bc,
        settings.rules,
        actor=SERVICE,
        interval_s=settings.batch_post_interval_s,
        max_lines=settings.batch_post_lines,
        lease_s=settings.claim_lease_s,
    )
