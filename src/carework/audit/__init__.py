"""The audit trail: every request that touches patient data leaves a hash-chained event.

Chains: allowed events about a plan are chained per plan; everything else (denials, lists,
searches) goes to one of a few shared chains picked by request id. Appending locks only the
head row of its own chain, and only from the append to the commit, so requests on different
plans never wait for each other, and the chain stays gap-free under any number of processes.
See ``chain`` for the hashing and verification.
"""
