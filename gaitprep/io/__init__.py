"""Readers and writers: layout discovery, restricted unpickling, raw frames, atomic writes."""
