"""A watch on a member cut off from its peers moves to a healthy member (SPEC 16).

The member keeps answering on its client port, so neither gRPC keepalive nor the watch's
progress probe notices anything; only etcd's ``hasleader`` check (Go's
``WithRequireLeader``, which every kvstore watch and keep-alive stream asks for) ends the
stream, and the watch resumes elsewhere from its next revision.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kvstore_etcd import EtcdConfig, EtcdStore

from .conftest import WAIT, wait_until
from .netns import NetnsCluster

pytestmark = [pytest.mark.reliability, pytest.mark.etcd]


@pytest.fixture
def netns_cluster(etcd_binary: str) -> Iterator[NetnsCluster]:
    with NetnsCluster(etcd_binary) as cluster:
        yield cluster


def _streams(member: object) -> int:
    return int(member.metric("etcd_debugging_mvcc_watch_stream_total") or 0)  # type: ignore[attr-defined]


def test_a_watch_on_a_partitioned_member_moves_to_a_healthy_one(
    netns_cluster: NetnsCluster,
) -> None:
    members = netns_cluster.members
    follower = next(member for member in members if not member.is_leader())
    others = [member for member in members if member is not follower]
    # The partitioned member first: the watch's stream goes to it.
    endpoints = [follower.endpoint, *(member.endpoint for member in others)]
    config = EtcdConfig(endpoints=endpoints, request_timeout=5.0, dial_timeout=5.0)
    watcher = EtcdStore(config)
    writer = EtcdStore(config.with_endpoints(*(member.endpoint for member in others)))
    try:
        first = writer.put("p/a", b"1")
        watch = watcher.watch_prefix("p/", start_revision=first)
        assert watch.next_event(WAIT) is not None
        assert _streams(follower) == 1

        netns_cluster.partition(members.index(follower))
        second = writer.put("p/a", b"2")  # the two others still have a quorum
        event = watch.next_event(WAIT)
        assert event is not None, "the watch stayed on the member without a leader"
        assert (event.kv.value, event.revision) == (b"2", second)
        assert wait_until(lambda: _streams(follower) == 0)
        assert sum(_streams(member) for member in others) == 1
        assert watch.next_event(0.5) is None  # and nothing twice
    finally:
        watcher.close()
        writer.close()
