"""The store's internals: the published view readers use, the ingest journal and lock, crash points for tests."""
