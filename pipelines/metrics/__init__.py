"""The numbers: every endpoint's body, history (trend, explain, compare) and read-only SQL, read from the lake."""
