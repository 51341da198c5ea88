"""The change feed: a transactional outbox of every committed change.

Each change appends one ``change_event`` in the same transaction as the change. Readers page by
``(tx_id, id)`` and only see events whose transaction id lies below the oldest transaction
still running (``pg_snapshot_xmin``): every transaction below that line has ended, so no event
can later appear behind a cursor a reader has passed. Sequence values alone would not do: they
are handed out at insert time and commit in any order.
"""
