"""The wire: JSON canonicalization, request signing and Inngest's time strings."""
