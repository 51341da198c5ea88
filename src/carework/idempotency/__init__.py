"""Idempotency-Key on POST: a retry gets the first response instead of a second resource.

The key is claimed by inserting a row in the request's own transaction and the response is
stored in that row before the commit. A concurrent retry's insert waits on the unique key
until the first transaction ends, then finds the stored response (or, if the first failed and
rolled back, claims the key itself). Keys belong to the caller (role and sub) and expire after
24 hours.
"""
