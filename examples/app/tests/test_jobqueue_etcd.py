"""The job queue on a real etcd (the ``etcd_endpoints`` fixture of ``kvstore_etcd``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from jobqueue import Claim, JobQueue

import kvstore
from kvstore import KVStore

pytestmark = pytest.mark.etcd


@pytest.fixture
def store(etcd_endpoints: list[str]) -> Iterator[KVStore]:
    with kvstore.open("etcd://" + ",".join(etcd_endpoints)) as store:
        yield store


def test_submit_claim_complete(store: KVStore) -> None:
    queue = JobQueue(store, claim_ttl=10)
    queue.submit("a", b"payload")
    claim = queue.claim("w1")
    assert claim is not None and claim.payload == b"payload"
    queue.heartbeat(claim)
    assert queue.complete(claim, b"result")
    assert queue.result("a") == b"result"
    assert queue.pending() == []


def test_concurrent_workers_claim_each_job_once(store: KVStore) -> None:
    queue = JobQueue(store, claim_ttl=10)
    for index in range(20):
        queue.submit(f"job-{index:02d}", str(index).encode())
    claims: list[Claim] = []
    lock = threading.Lock()

    def work(worker: str) -> None:
        while (claim := queue.claim(worker)) is not None:
            with lock:
                claims.append(claim)

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert sorted(claim.job_id for claim in claims) == [f"job-{i:02d}" for i in range(20)]
    assert all(queue.complete(claim, b"ok") for claim in claims)
    assert queue.pending() == []


def test_a_crashed_worker_releases_its_job(store: KVStore) -> None:
    queue = JobQueue(store, claim_ttl=10)
    queue.submit("a", b"1")
    crashed = queue.claim("w1")
    assert crashed is not None
    crashed.lease.revoke()  # what etcd does when the lease's TTL runs out
    retry = queue.claim("w2")
    assert retry is not None and retry.job_id == "a"
    assert not queue.complete(crashed, b"late")
    assert queue.complete(retry, b"ok")
