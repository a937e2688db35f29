"""The producer's key of tests that call the ingest stage directly (jobs/stages/ingest/pipeline.run_ingest):
32 bytes or more, as every key must be (jobs/runtime/keys.py); never a secret. A test that anonymizes
what it ingested sets the same text as its key variable, so the stored identities match the link key."""

from jobs.runtime.keys import Key

TEST_KEY_TEXT = "ingest-test-key-not-a-secret-0123456789"
TEST_KEY = Key("testkey", TEST_KEY_TEXT.encode())
