"""A small job queue on any ``KVStore``: workers claim jobs with leases, so a crashed
worker's jobs go back to the queue by themselves.

The application only sees the ``KVStore`` protocol, injected by the caller: production
passes ``kvstore.open("etcd://...")``, unit tests a ``MemoryStore`` on a ``ManualClock``
(lease expiry without sleeping).

Keys, under ``prefix``:

- ``pending/<job>``: the payload of a job not finished yet;
- ``claims/<job>``: the worker working on it, attached to that worker's lease;
- ``done/<job>``: the result of a finished job.

A claim is one transaction (the claim key must not exist, the job must still be pending);
completing is one transaction guarded by the claim's mod revision, so a worker whose
lease expired (and whose job was claimed again) cannot complete it any more.

Example::

    queue = JobQueue(kvstore.open("etcd://localhost:2379"))
    queue.submit("resize-42", b'{"image": "cat.png"}')
    claim = queue.claim("worker-1")
    if claim is not None:
        queue.complete(claim, b"ok")
"""

from __future__ import annotations

from dataclasses import dataclass

from kvstore import KVStore, Lease, LeaseNotFoundError, RangeResult
from kvstore.txn import CreateRevision, Delete, Get, ModRevision, Put, Version

__all__ = ["Claim", "ClaimLostError", "JobQueue"]


class ClaimLostError(Exception):
    """The claim's lease expired: another worker may own the job now."""


@dataclass(frozen=True)
class Claim:
    """A job claimed by a worker.

    Attributes:
        job_id: The job.
        payload: What ``submit`` stored for it.
        worker: The worker that claimed it.
        lease: The lease the claim lives on; ``heartbeat`` renews it.
        revision: The claim's mod revision: ``complete`` checks it is still ours.
    """

    job_id: str
    payload: bytes
    worker: str
    lease: Lease
    revision: int


class JobQueue:
    """Submit, claim, heartbeat and complete jobs on a shared store.

    Args:
        store: Any ``KVStore`` (etcd in production, ``MemoryStore`` in tests).
        prefix: Where the queue keeps its keys.
        claim_ttl: Seconds a claim survives without a ``heartbeat``.
    """

    def __init__(self, store: KVStore, *, prefix: str = "jobs/", claim_ttl: int = 30) -> None:
        self._store = store
        self._pending = f"{prefix}pending/"
        self._claims = f"{prefix}claims/"
        self._done = f"{prefix}done/"
        self._claim_ttl = claim_ttl

    def submit(self, job_id: str, payload: bytes) -> bool:
        """Queue a job; ``False`` if a job with this id is already queued."""
        return self._store.put_if_not_exists(self._pending + job_id, payload)

    def pending(self) -> list[str]:
        """The ids of the jobs not finished yet, claimed or not."""
        return [key.removeprefix(self._pending) for key in self._store.list(self._pending)]

    def claimed(self) -> dict[str, str]:
        """Claimed job ids and the worker holding each."""
        return {
            key.removeprefix(self._claims): value.decode()
            for key, value in self._store.get_multiple(self._claims).items()
        }

    def result(self, job_id: str) -> bytes | None:
        """The result of a finished job, or ``None``."""
        kv = self._store.get_kv(self._done + job_id)
        return None if kv is None else kv.value

    def claim(self, worker: str) -> Claim | None:
        """Claim the first unclaimed job, or return ``None`` if there is none.

        The claim lives on a new lease of ``claim_ttl`` seconds: call ``heartbeat`` more
        often than that, or the job goes back to the queue.
        """
        claimed = set(self.claimed())
        candidates = [job for job in self.pending() if job not in claimed]
        if not candidates:
            return None
        lease = self._store.lease(self._claim_ttl)
        for job_id in candidates:
            claim_key, job_key = self._claims + job_id, self._pending + job_id
            result = (
                self._store.transaction()
                .if_(CreateRevision(claim_key) == 0, Version(job_key) > 0)
                .then(Put(claim_key, worker.encode(), lease=lease.id), Get(job_key))
                .commit()
            )
            if result.succeeded:
                job = result.responses[1]
                assert isinstance(job, RangeResult)
                return Claim(job_id, job.kvs[0].value, worker, lease, result.revision)
        lease.revoke()  # every candidate was taken by someone else meanwhile
        return None

    def heartbeat(self, claim: Claim) -> None:
        """Renew the claim's lease.

        Raises:
            ClaimLostError: The lease already expired; the job may be someone else's.
        """
        try:
            claim.lease.refresh()
        except LeaseNotFoundError as exc:
            raise ClaimLostError(f"the claim on {claim.job_id!r} expired") from exc

    def complete(self, claim: Claim, result: bytes) -> bool:
        """Finish a claimed job: store its result and remove it from the queue, atomically.

        Returns:
            ``False`` (and nothing changes) if the claim was lost meanwhile.
        """
        job_id = claim.job_id
        finished = (
            self._store.transaction()
            .if_(ModRevision(self._claims + job_id) == claim.revision)
            .then(
                Put(self._done + job_id, result),
                Delete(self._pending + job_id),
                Delete(self._claims + job_id),
            )
            .commit()
        )
        claim.lease.revoke()
        return finished.succeeded
