"""Inputs: what a file is (export, dump, log, gzip) and its documents as Arrow batches; knows nothing of the lake."""
