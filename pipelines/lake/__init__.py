"""The lake: its state file, day partitions, snapshots, manifest, _id index, locks and zone."""
