"""Status out: each pass's report, written where people and tools read it (status files,
Kubernetes statuses, Events and finalizers). Sinks may read everything below them."""
