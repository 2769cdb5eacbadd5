"""The part of Inngest's dev-server GraphQL API (``/v0/gql``) that SDK test suites and tools
query: the schema in ``schema.graphql``, the resolvers over the store, and run traces.

It is given the store and a function lookup rather than the server, so nothing here
imports the route modules or the composition root.
"""

from __future__ import annotations

from inlet.api.graphql.endpoint import GraphQLAPI

__all__ = ["GraphQLAPI"]
