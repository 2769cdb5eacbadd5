"""The run engine's transaction logic, written once over the :class:`~inlet.store.engine.tx.Tx`
port that every backend fills.

Every function here runs inside one transaction of one backend and is synchronous: the SQL
backends call it on their store thread, ``MemoryStore`` directly. Leaves never call back
up: what a leaf starts (a cancelled run's events, the parent an invoke refusal resumes)
comes back to :func:`~inlet.store.engine.apply.ingest` as follow-up work.
"""
