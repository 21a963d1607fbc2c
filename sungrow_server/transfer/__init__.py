"""Moving data in and out: raw samples exported and imported as files (through ingest's
write path), and the whole database backed up and restored."""
