"""The local agent: one warm connection per profile, served to the CLI over a unix socket."""
