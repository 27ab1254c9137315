package keyspace

// FlushMemtables writes Pebble's memtables to table files, so that a test can
// measure the on-disk size of what was written.
func FlushMemtables(db *PebbleDB) error { return db.db.Flush() }
