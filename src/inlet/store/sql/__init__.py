"""What the SQL stores share: named queries, row decoding and the engine's ``Tx`` in SQL.
The migrations (``<dialect>_NNN_*.sql``) and queries (``queries.sql`` for the engine,
``reads.sql``, ``access.sql``; ``<dialect>.sql`` overrides) live beside this module as
package data."""
