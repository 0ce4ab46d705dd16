"""This machine's state: local paths, private files, keys, known_hosts, the ssh config block and
the stored profiles."""
