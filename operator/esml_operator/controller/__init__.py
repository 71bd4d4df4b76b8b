"""One pass per resource: the runtime, work queue, observer, actor, reconciler, deleter and status writer."""
