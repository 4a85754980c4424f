"""``EtcdConfig.auto_sync_interval`` (Go's AutoSyncInterval): a store started with one
endpoint follows the cluster as it grows, and keeps working, its watches too, after that
first member is removed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from etcd3 import etcdrpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.testing._sync._support import wait_until
from kvstore_etcd import AsyncEtcdStore, EtcdConfig, EtcdStore
from kvstore_etcd.launcher import EtcdServer

pytestmark = [pytest.mark.etcd, pytest.mark.slow]


def _cluster_stub(endpoint: str) -> tuple[grpc.Channel, etcdrpc.ClusterStub]:
    channel = grpc.insecure_channel(endpoint)
    return channel, etcdrpc.ClusterStub(channel)


def _add_member(existing: EtcdServer, name: str, members: list[EtcdServer]) -> EtcdServer:
    """Add a member to ``existing``'s cluster (``MemberAdd``, then start it)."""
    joining = EtcdServer(existing.binary, name=name)
    channel, stub = _cluster_stub(existing.endpoint)
    with channel:
        _reconfigure(
            lambda: stub.MemberAdd(
                rpc_pb2.MemberAddRequest(peerURLs=[joining.peer_url]), timeout=10
            )
        )
    initial = ",".join(f"{member.name}={member.peer_url}" for member in [*members, joining])
    joining._initial_cluster = initial  # the members at its start, as etcdctl prints them
    joining.extra_args.append("--initial-cluster-state=existing")
    return joining.start()


def _remove_member(via: EtcdServer, removed: EtcdServer) -> None:
    member_id = removed.member_id()
    assert member_id is not None
    channel, stub = _cluster_stub(via.endpoint)
    with channel:
        _reconfigure(
            lambda: stub.MemberRemove(rpc_pb2.MemberRemoveRequest(ID=member_id), timeout=10)
        )


def _reconfigure(change: Callable[[], object]) -> None:
    """Apply a membership change; etcd refuses one ("unhealthy cluster") until every
    member has been connected for 5 s, so it is tried again for a while."""
    deadline = time.monotonic() + 30
    while True:
        try:
            change()
            return
        except grpc.RpcError as exc:
            if "unhealthy cluster" not in str(exc.details()) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def growing(etcd_binary: str) -> Iterator[list[EtcdServer]]:
    """A one-member cluster that the test grows to three members."""
    first = EtcdServer(etcd_binary, name="m0").start()
    members = [first]
    try:
        yield members
    finally:
        for member in members:
            member.close()


def test_a_store_started_with_one_endpoint_survives_its_removal(
    growing: list[EtcdServer],
) -> None:
    first = growing[0]
    config = EtcdConfig(
        endpoints=first.endpoints, request_timeout=5.0, dial_timeout=5.0, auto_sync_interval=0.2
    )
    store = EtcdStore(config)
    try:
        store.put("k", b"0")
        watch = store.watch("k")
        for name in ("m1", "m2"):
            growing.append(_add_member(first, name, list(growing)))
        everyone = sorted(member.endpoint for member in growing)

        def synced() -> bool:
            store.get("k")  # calls are what run the sync when it is due
            return sorted(store.endpoints) == everyone

        assert wait_until(synced, timeout=20), (
            f"the store still has {store.endpoints}, not {everyone}"
        )

        _remove_member(growing[1], first)
        assert wait_until(lambda: not first.is_running or not first.is_healthy(), timeout=20)
        first.close()
        # The two members left elect a leader (the removed one led): then writes go on.
        assert wait_until(lambda: all(member.is_healthy() for member in growing[1:]), timeout=20)
        revision = store.put("k", b"1")
        assert store.get("k") == b"1"
        assert wait_until(lambda: first.endpoint not in store.endpoints, timeout=20)
        # The watch moved to a member that remains, from its next revision.
        event = watch.next_event(20)
        assert event is not None and event.revision == revision
        assert sorted(store.endpoints) == sorted(member.endpoint for member in growing[1:])
    finally:
        store.close()


async def test_the_async_store_follows_the_members_too(growing: list[EtcdServer]) -> None:
    first = growing[0]
    config = EtcdConfig(endpoints=first.endpoints, auto_sync_interval=0.2)
    async with AsyncEtcdStore(config) as store:
        await store.put("k", b"0")
        growing.append(_add_member(first, "m1", list(growing)))
        deadline = time.monotonic() + 20
        while len(store.endpoints) < 2 and time.monotonic() < deadline:
            await store.get("k")
        assert sorted(store.endpoints) == sorted(member.endpoint for member in growing)
